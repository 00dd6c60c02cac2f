"""Stream-like training inside :func:`earmark.api.train` (see :mod:`earmark.augment.stream`).

Positives in background join the training clips as copies (each in its
clip's fold), background excerpts join as clips of the ``label`` class, and
each round of hard-negative mining runs the fitted model over the background
recordings on the live path's windows (:func:`~earmark.inference.keywords.stream_scores`,
the windows ``listen`` scores), adds the windows it fires on as negatives and
fits a fresh copy of the model.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from earmark.augment.stream import StreamTraining, false_firing
from earmark.errors import ParameterError
from earmark.pipeline import Model, gated_features
from earmark.progress import track

log = logging.getLogger(__name__)

LIVE_GATE_DB = -50.0  # the gate listen and evaluate-kws score live windows with


def check_stream(stream: StreamTraining, labels, sample_rate: int) -> None:
    """Refuse what stream-like training cannot do, before any embedding: tags, and a background with no usable audio."""
    if any(";" in str(v) for v in labels):
        raise ParameterError("The 'stream' parameter trains single-label models; this data set's labels hold ';' (tags). "
                             "Leave --stream out, or give one label per clip.")
    stream.recordings(sample_rate)


def window_samples(front, durations) -> int:
    """Samples in the window the live detector scores for a model trained on clips of ``durations`` seconds: their mean
    length, at most the front end's window; the window for a front end whose live windows always hold one (as
    :func:`~earmark.inference.keywords.keyword_ring_s`)."""
    window = float(front.window_s)
    return int(round((window if front.live_window else min(window, float(np.mean(durations)))) * front.sample_rate))


def stream_fit(est, front, clips: list, labels, copies: list | None, stream: StreamTraining, *, durations, paths, gate_db,
               model_name: str, progress: bool = False, seed: int = 0, fit_kwargs: dict | None = None):
    """Fit ``est`` stream-style. ``copies`` are the positives in background (plus any waveform copies), one list per
    clip; ``paths`` the clips' files (cut-off words are made from those of the other classes). Returns the fitted
    estimator and what was done, for the model file."""
    from earmark.audio import load
    from sklearn.base import clone

    from earmark.inference.keywords import stream_scores

    sr, n = front.sample_rate, window_samples(front, durations)
    t0 = time.perf_counter()
    negatives = _embed(front, stream.negative_excerpts(len(clips), n, sr=sr, seed=seed), gate_db, "background excerpts", progress)
    words = [load(p, sr=sr)[0] for p, label in zip(paths, labels, strict=True) if str(label) != stream.label] \
        if stream.partials or stream.min_window_s else []
    partials = _embed(front, stream.partial_words(words, sr=sr, seed=seed), gate_db, "cut-off words", progress)
    stale = _embed(front, stream.stale_words(words, sr=sr, seed=seed), gate_db, "words said earlier", progress) if words else []
    negatives += partials + stale
    copies = copies if copies is not None else [[] for _ in clips]
    fit_kwargs = fit_kwargs or {}

    def fit(extra: list):
        x = list(clips) + extra
        y = np.array([*map(str, labels), *([stream.label] * len(extra))], dtype=object)
        return clone(est).fit(x, y, augmented=list(copies) + [[] for _ in extra], **fit_kwargs)

    fitted = fit(negatives)
    recordings = stream.recordings(sr)
    rounds, hard = [], []
    for r in range(stream.rounds):
        model = Model(front, fitted, model_name, gate_db, {})
        fire = [i for i, c in enumerate(model.classes) if c != stream.label]
        found, scored = [], 0
        for y in track(recordings, description=f"hard negatives, round {r + 1}", enabled=progress):
            times, scores = stream_scores(model, y, range(len(model.classes)), hop_s=stream.hop_s, ring_s=n / sr,
                                          gate_db=LIVE_GATE_DB if gate_db is None else max(gate_db, LIVE_GATE_DB))
            scored += len(times)
            found += [(float(scores[i, fire].max()), y[end - n : end]) for i in false_firing(scores, fire, stream.threshold)
                      for end in [int(round(times[i] * sr))]]
        found.sort(key=lambda f: -f[0])
        added = _embed(front, [w for _, w in found[: len(clips)]], gate_db, "hard negatives", progress)
        rounds.append({"windows_scored": scored, "fired": len(found), "added": len(added)})
        log.info("hard-negative round %d: %d of %d background windows fired, %d added", r + 1, len(found), scored, len(added))
        if not added:
            break
        hard += added
        fitted = fit(negatives + hard)
    info = {**stream.describe(), "window_s": n / sr, "background_hours": sum(map(len, recordings)) / sr / 3600,
            "n_positives": sum(map(len, copies)), "n_negatives": len(negatives) - len(partials) - len(stale), "n_partials": len(partials),
            "n_said_earlier": len(stale), "n_hard_negatives": len(hard), "rounds": rounds,
            "seconds": time.perf_counter() - t0}
    return fitted, info


def _embed(front, signals: list[np.ndarray], gate_db, what: str, progress: bool) -> list[np.ndarray]:
    """The gated windows of each signal by ``front`` (silent ones left out)."""
    out = []
    for y in track(signals, description=f"embedding {what}", enabled=progress):
        x = gated_features(front.embed(y, sr=front.sample_rate), gate_db, front.window_s)
        if x is not None:
            out.append(x)
    return out
