"""Calibrated probabilities and "none of these": the pieces :class:`~earmark.models.base.ClipModel` fits after training.

Both are fitted on **held-out** scores of the training clips (each clip scored
by a model trained without it, k-fold inside ``fit``), never on the clips a
model was trained on, whose scores are over-confident:

- calibration maps probabilities to ones that mean what they say:
  ``"temperature"`` (one temperature on the log-probabilities, or on the logits
  of a tagger's tags; Guo et al. 2017) or ``"isotonic"`` (a monotone map per
  class, rows renormalised; Zadrozny & Elkan 2002, as scikit-learn's
  ``CalibratedClassifierCV``);
- rejection gives every clip a score of how much it looks like the training
  classes, and a threshold below which the model answers "unknown":
  ``"proba"``, the highest (calibrated) class probability (Hendrycks & Gimpel
  2017), or ``"distance"``, the cosine similarity of the clip's standardised
  mean features to its nearest training clip (a nearest-neighbour novelty
  score, which also catches loud noise a classifier calls a class with
  confidence). The threshold rejects ``reject_rate`` of the held-out training
  clips, or, given negative clips (sounds of none of the classes), best
  separates the two (Youden's J).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

CALIBRATIONS = ("none", "temperature", "isotonic")
REJECTIONS = ("none", "proba", "distance")
_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def apply_temperature(proba: np.ndarray, temperature: float, *, multilabel: bool) -> np.ndarray:
    """``proba`` with its logits divided by ``temperature`` (softmax over classes, or sigmoid per tag)."""
    if multilabel:
        return 1.0 / (1.0 + np.exp(-_logit(proba) / temperature))
    z = np.log(np.clip(proba, _EPS, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, target: np.ndarray, *, multilabel: bool) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood of ``target``.

    ``target`` is class indices ``(n,)``, or a 0/1 tag matrix for a tagger.
    """
    def nll(log_t: float) -> float:
        p = np.clip(apply_temperature(proba, float(np.exp(log_t)), multilabel=multilabel), _EPS, 1 - _EPS)
        if multilabel:
            return float(-(target * np.log(p) + (1 - target) * np.log1p(-p)).mean())
        return float(-np.log(p[np.arange(len(p)), target]).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded").x))


def fit_isotonic(proba: np.ndarray, onehot: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per class, the knots ``(x, y)`` of a monotone map from its held-out probability to its frequency."""
    from sklearn.isotonic import IsotonicRegression

    out = []
    for j in range(proba.shape[1]):
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba[:, j], onehot[:, j])
        out.append((np.asarray(iso.X_thresholds_, np.float64), np.asarray(iso.y_thresholds_, np.float64)))
    return out


def apply_isotonic(proba: np.ndarray, knots, *, multilabel: bool) -> np.ndarray:
    """``proba`` through each class's isotonic map; rows renormalised unless tags are independent."""
    out = np.column_stack([np.interp(proba[:, j], x, y) for j, (x, y) in enumerate(knots)]) if len(proba) else proba.copy()
    if multilabel:
        return out
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / proba.shape[1])


def clip_vectors(clips) -> np.ndarray:
    """One vector per clip: the mean of its windows' flattened features."""
    return np.stack([c.reshape(len(c), -1).mean(axis=0) for c in clips]).astype(np.float64)


MAX_BANK_ROWS = 50_000  # training clips a bank keeps (evenly spaced beyond that), so a model file stays bounded


def fit_bank(vectors: np.ndarray) -> dict:
    """The training clips' vectors standardised, with the scaling, for :func:`similarity` (at most
    ``MAX_BANK_ROWS`` of them, evenly spaced)."""
    if len(vectors) > MAX_BANK_ROWS:
        vectors = vectors[np.linspace(0, len(vectors) - 1, MAX_BANK_ROWS).astype(int)]
    mean = vectors.mean(axis=0)
    scale = vectors.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    return {"mean": mean, "scale": scale, "bank": (vectors - mean) / scale}


def _nearest(q: np.ndarray, bank: np.ndarray, *, skip_self: bool = False) -> np.ndarray:
    """Euclidean distance of each row of ``q`` to its nearest row of ``bank``, per dimension (RMS)."""
    out = np.empty(len(q))
    b2 = (bank**2).sum(axis=1)
    for i in range(0, len(q), 1024):  # bounded memory whatever the number of windows
        block = q[i : i + 1024]
        d2 = (block**2).sum(axis=1)[:, None] + b2[None, :] - 2 * block @ bank.T
        if skip_self:
            d2[np.arange(len(block)), np.arange(i, i + len(block))] = np.inf
        out[i : i + 1024] = np.sqrt(np.maximum(d2.min(axis=1), 0.0) / bank.shape[1])
    return out


def similarity(bank: dict, vectors: np.ndarray) -> np.ndarray:
    """Minus the distance of each vector (standardised like the bank) to its nearest training clip (higher: more known)."""
    return -_nearest((vectors - bank["mean"]) / bank["scale"], bank["bank"])


def leave_one_out_similarity(bank: dict) -> np.ndarray:
    """Each training clip's :func:`similarity` to its nearest *other* training clip."""
    return -_nearest(bank["bank"], bank["bank"], skip_self=True)


def choose_threshold(known: np.ndarray, negatives: np.ndarray | None, rate: float) -> float:
    """The score below which a clip is unknown.

    Without negatives: the ``rate`` quantile of the held-out known scores (so
    about ``rate`` of known clips are rejected). With negatives: the cut that
    maximises the known clips' acceptance minus the negatives' acceptance.
    """
    known = np.sort(np.asarray(known, np.float64))
    if negatives is None or len(negatives) == 0:
        return float(np.quantile(known, rate)) if rate > 0 else float(known[0])
    negatives = np.asarray(negatives, np.float64)
    cands = np.unique(np.concatenate([known, negatives]))
    cands = np.concatenate([cands, [cands[-1] + 1e-9]])
    j = (known[None, :] >= cands[:, None]).mean(1) - (negatives[None, :] >= cands[:, None]).mean(1)
    best = np.flatnonzero(j >= j.max() - 1e-12)
    return float(cands[best[0]])
