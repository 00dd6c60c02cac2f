"""Turn window class probabilities into one clip-level probability vector."""

from __future__ import annotations

import numpy as np

from earmark.errors import check_choice

AGGREGATIONS = ("mean", "vote", "max", "linsoft")


def aggregate(proba: np.ndarray, method: str = "mean") -> np.ndarray:
    """Aggregate window probabilities of one clip.

    Parameters
    ----------
    proba : np.ndarray [shape=(n_windows, n_classes)]
    method : {"mean", "vote", "max", "linsoft"}
        ``mean``: average probability (global average pooling);
        ``vote``: share of windows whose top class is each class;
        ``max``: per-class maximum, renormalised to sum to one;
        ``linsoft``: linear softmax, ``sum(p**2) / sum(p)`` per class (loud
        windows count most; Wang, Li & Metze 2019), renormalised.

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
    return aggregate_clips(proba, [len(proba)], method)[0]


def aggregate_clips(window_proba: np.ndarray, lengths, method: str = "mean", *, multilabel: bool = False) -> np.ndarray:
    """Aggregate the window probabilities of consecutive clips, ``lengths`` windows each.

    Equal to stacking :func:`aggregate` of each clip's rows, vectorised. With
    ``multilabel`` the columns are independent tag probabilities: ``max`` is
    not renormalised and ``vote`` counts windows at or above 0.5.

    Parameters
    ----------
    window_proba : np.ndarray [shape=(sum(lengths), n_classes)]
    lengths : sequence of int

    Returns
    -------
    np.ndarray [shape=(len(lengths), n_classes)]
    """
    check_choice("aggregation", method, AGGREGATIONS)
    lengths = np.asarray(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    p = np.asarray(window_proba, dtype=np.float64)
    if method == "mean":
        return np.add.reduceat(p, starts, axis=0) / lengths[:, None]
    if method == "linsoft":
        pooled = np.add.reduceat(p * p, starts, axis=0) / np.maximum(np.add.reduceat(p, starts, axis=0), 1e-12)
        return pooled if multilabel else pooled / np.maximum(pooled.sum(axis=1, keepdims=True), 1e-12)
    if method == "vote":
        onehot = (p >= 0.5).astype(np.float64) if multilabel else np.zeros_like(p)
        if not multilabel:
            onehot[np.arange(len(p)), p.argmax(axis=1)] = 1.0
        return np.add.reduceat(onehot, starts, axis=0) / lengths[:, None]
    peak = np.maximum.reduceat(p, starts, axis=0)
    return peak if multilabel else peak / peak.sum(axis=1, keepdims=True)
