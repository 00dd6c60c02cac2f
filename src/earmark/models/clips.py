"""Clips and labels as every clip model takes them: window arrays checked, ``;``-joined tags split.

A *clip* is ``(n_windows, *feature_shape)`` float32, one row of features per
analysis window; a 2-D table (as scikit-learn passes) is one single-window
clip per row. A label may hold several tags joined by ``;`` (multi-label).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import issparse

from earmark.errors import ParameterError

TAG_SEPARATOR = ";"


def split_tags(label) -> list[str]:
    """The tags of one label: ``"dog;rain"`` -> ``["dog", "rain"]``, ``""`` -> ``[]``."""
    return sorted({t.strip() for t in str(label).split(TAG_SEPARATOR) if t.strip()})


def is_multilabel(labels) -> bool:
    """True if any label holds several tags or none (multi-label data), False for one class per clip."""
    return any(TAG_SEPARATOR in str(v) or not str(v).strip() for v in labels)


def tag_matrix(labels, tags) -> np.ndarray:
    """``(n_labels, n_tags)`` 0/1 indicator of each label's tags, columns in ``tags`` order."""
    index = {t: j for j, t in enumerate(tags)}
    out = np.zeros((len(labels), len(tags)), np.float32)
    for i, label in enumerate(labels):
        for t in split_tags(label):
            if t in index:
                out[i, index[t]] = 1.0
    return out


def best_thresholds(proba: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per tag, the threshold with the best F1 on (``proba``, ``truth``): midpoints between scores, ties nearest 0.5."""
    out = np.full(proba.shape[1], 0.5)
    for j in range(proba.shape[1]):
        p, t = proba[:, j], truth[:, j] > 0
        if not t.any() or t.all():
            continue
        s = np.unique(p)
        cands = np.concatenate([(s[:-1] + s[1:]) / 2, [0.5]]) if len(s) > 1 else np.array([0.5])
        pred = p[None, :] >= cands[:, None]
        tp = (pred & t).sum(1)
        f1 = 2 * tp / np.maximum(pred.sum(1) + t.sum(), 1)
        best = np.flatnonzero(f1 >= f1.max() - 1e-12)
        out[j] = cands[best[np.argmin(np.abs(cands[best] - 0.5))]]
    return out




def tabular(X) -> bool:
    """True for a 2-D table (each row a one-window clip), as scikit-learn passes; False for a sequence of clips."""
    if issparse(X):
        return True
    if isinstance(X, np.ndarray):
        return X.ndim <= 2 and not (X.dtype == object and X.ndim == 1)
    if isinstance(X, (list, tuple)):
        return not X or np.ndim(X[0]) < 2
    return hasattr(X, "__array__") or hasattr(X, "shape")


def as_clips(X) -> list[np.ndarray]:
    """Clips from ``X``: a 2-D array gives one single-window clip per row; else each item is a clip.

    Raises
    ------
    ParameterError
        For empty, non-finite or shapeless clips.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim < 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D array instead. Reshape your data either using array.reshape(-1, 1) "
                "if your data has a single feature or array.reshape(1, -1) if it contains a single sample."
            )
        if X.ndim == 2:
            X = X[:, None, :]
    if isinstance(X, str):
        raise ParameterError("X must be clips of window features, not a string; pass audio files to Model.predict instead.")
    try:
        clips = [np.asarray(c, dtype=np.float32) for c in X]
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"X must be a sequence of (n_windows, *shape) arrays of numbers ({exc}).") from None
    if not clips:
        if isinstance(X, np.ndarray):
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
        return clips
    for i, c in enumerate(clips):
        if c.ndim == 1:
            clips[i] = c = c[None, :]
        if c.ndim < 2 or len(c) == 0 or c.shape[1] == 0:
            raise ValueError(f"Clip {i} of X must be a non-empty (n_windows, *shape) array. Got shape {c.shape}; 0 feature(s) is not allowed.")
        if not np.isfinite(c).all():
            raise ValueError(f"Clip {i} of X contains NaN or infinity; clean the features first.")
    return clips
