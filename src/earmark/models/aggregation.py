"""Turn window class probabilities into one clip-level probability vector."""

from __future__ import annotations

import numpy as np

from earmark.errors import check_choice

AGGREGATIONS = ("mean", "vote", "max")


def aggregate(proba: np.ndarray, method: str = "mean") -> np.ndarray:
    """Aggregate window probabilities of one clip.

    Parameters
    ----------
    proba : np.ndarray [shape=(n_windows, n_classes)]
    method : {"mean", "vote", "max"}
        ``mean``: average probability (global average pooling);
        ``vote``: share of windows whose top class is each class;
        ``max``: per-class maximum, renormalised to sum to one.

    Returns
    -------
    np.ndarray [shape=(n_classes,)]

    Examples
    --------
    >>> aggregate(np.array([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]]), "vote").tolist()
    [0.6666666666666666, 0.3333333333333333]
    """
    check_choice("aggregation", method, AGGREGATIONS)
    proba = np.asarray(proba, dtype=np.float64)
    if method == "mean":
        return proba.mean(axis=0)
    if method == "vote":
        return np.bincount(proba.argmax(axis=1), minlength=proba.shape[1]) / len(proba)
    peak = proba.max(axis=0)
    return peak / peak.sum()
