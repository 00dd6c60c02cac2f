"""Speaker verification and identification figures: trials with enrolled voice prints, equal error rate.

A *trial* compares a voice print (the normalised mean embedding of ``enrol``
clips of one speaker) with one other clip: a target trial when the clip is
the same speaker's, a non-target trial otherwise. The equal error rate (EER)
is where the false-accept and false-reject rates meet on the ROC curve
(scikit-learn's ``roc_curve``), interpolated between its two nearest points.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def equal_error_rate(scores, is_target) -> tuple[float, float]:
    """``(eer, threshold)``: the rate at which false accepts equal false rejects, and the score where they do.

    Raises
    ------
    ValueError
        Without both target and non-target trials.
    """
    is_target = np.asarray(is_target, bool)
    if is_target.all() or not is_target.any():
        raise ValueError("The equal error rate needs both target and non-target trials.")
    fpr, tpr, thr = roc_curve(is_target, np.asarray(scores, np.float64))
    fnr = 1.0 - tpr
    i = int(np.flatnonzero(fnr <= fpr)[0])  # the first point where false rejects no longer exceed false accepts
    if i == 0:
        return float(fpr[0]), float(thr[0])
    # between points i-1 (fnr > fpr) and i (fnr <= fpr): where the two lines cross
    d0, d1 = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
    w = d0 / (d0 - d1) if d0 != d1 else 0.0
    eer = fpr[i - 1] + w * (fpr[i] - fpr[i - 1])
    threshold = thr[i] if np.isinf(thr[i - 1]) else thr[i - 1] + w * (thr[i] - thr[i - 1])
    return float(eer), float(threshold)


def trials(vectors: np.ndarray, speakers, *, enrol: int = 3, seed: int = 0) -> dict:
    """Verification trials among ``speakers`` (one label per row of clip ``vectors``).

    For every speaker with more than ``enrol`` clips, ``enrol`` of them
    (seeded draw) make its voice print; each of its other clips is a target
    trial, and every clip of the other speakers a non-target trial against it.

    Returns
    -------
    dict
        ``scores`` (cosine), ``is_target``, ``speakers`` (those enrolled),
        ``prints`` (their voice prints, unit rows) and ``tests`` (indices of
        each speaker's held-back clips).
    """
    speakers = np.asarray(speakers)
    rng = np.random.default_rng(seed)
    v = unit(vectors)
    names = [s for s in np.unique(speakers) if (speakers == s).sum() > enrol]
    prints, tests = [], {}
    for s in names:
        idx = rng.permutation(np.flatnonzero(speakers == s))
        prints.append(unit(v[idx[:enrol]].mean(axis=0)))
        tests[s] = idx[enrol:]
    prints = np.array(prints)
    held = np.concatenate([tests[s] for s in names]) if names else np.zeros(0, int)
    sims = v[held] @ prints.T  # (held clips, enrolled speakers)
    is_target = speakers[held][:, None] == np.array(names)[None, :]
    return {"scores": sims.ravel(), "is_target": is_target.ravel(), "speakers": names, "prints": prints, "tests": tests,
            "held": held, "similarity": sims}


def identification_accuracy(t: dict, speakers, *, among: int | None = None, seed: int = 0, draws: int = 20) -> float:
    """Share of held-back clips whose closest voice print is their speaker's, among all enrolled speakers, or among
    ``among`` of them (the true one and others drawn at random, ``draws`` times per clip, averaged)."""
    speakers = np.asarray(speakers)
    names = np.array(t["speakers"])
    truth = np.array([np.flatnonzero(names == s)[0] for s in speakers[t["held"]]])
    sims = t["similarity"]
    if among is None or among >= len(names):
        return float((sims.argmax(axis=1) == truth).mean())
    rng = np.random.default_rng(seed)
    hits = []
    for i, k in enumerate(truth):
        others = np.delete(np.arange(len(names)), k)
        for _ in range(draws):
            pool = np.concatenate([[k], rng.choice(others, among - 1, replace=False)])
            hits.append(pool[np.argmax(sims[i, pool])] == k)
    return float(np.mean(hits))
