"""Event-based and segment-based detection metrics (the DCASE / sed_eval definitions).

Event-based: an estimated event is correct when its label equals a
reference event's, its onset is within ``onset_collar_s`` of that event's
onset and its offset within ``max(offset_collar_s, offset_ratio * reference
duration)`` of its offset; references and estimates are paired one-to-one
so that the number of correct pairs is maximal. Segment-based: time is cut
into ``segment_s`` segments, and a class is active in a segment when any of
its events overlaps it. Both report micro-averaged precision, recall and F1
and per-class F1.

Equal to DCASE's reference implementation, sed_eval 0.2.1, to 1e-16 on 200
random event lists (``benchmarks/bench_event_metrics.py``); kept by hand
because sed_eval is about 87x slower and cannot join earmark's environment
(its dcase_util ships a top-level ``tests`` package and needs setuptools'
``pkg_resources``).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from earmark.data.labels import Event
from earmark.errors import check_positive


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def event_based(reference: list[Event], estimated: list[Event], *, onset_collar_s: float = 0.2,
                offset_collar_s: float = 0.2, offset_ratio: float = 0.5) -> dict:
    """Micro-averaged event-based precision, recall and F1, plus ``per_class`` F1."""
    check_positive("onset_collar_s", onset_collar_s, allow_zero=True)
    labels = sorted({e.label for e in reference} | {e.label for e in estimated})
    per_class, totals = {}, np.zeros(3, int)
    for label in labels:
        ref = [e for e in reference if e.label == label]
        est = [e for e in estimated if e.label == label]
        ok = np.array([[abs(x.start_s - r.start_s) <= onset_collar_s
                        and abs(x.end_s - r.end_s) <= max(offset_collar_s, offset_ratio * (r.end_s - r.start_s))
                        for x in est] for r in ref], dtype=bool).reshape(len(ref), len(est))
        tp = 0
        if ok.any():
            rows, cols = linear_sum_assignment(-ok.astype(float))
            tp = int(ok[rows, cols].sum())
        counts = np.array([tp, len(est) - tp, len(ref) - tp])
        totals += counts
        per_class[label] = _prf(*counts.tolist())["f1"]
    return _prf(*totals.tolist()) | {"per_class_f1": per_class}


def segment_based(reference: list[Event], estimated: list[Event], *, duration_s: float, segment_s: float = 1.0) -> dict:
    """Micro-averaged segment-based precision, recall and F1, plus ``per_class`` F1."""
    check_positive("segment_s", segment_s)
    n = int(np.ceil(duration_s / segment_s))
    labels = sorted({e.label for e in reference} | {e.label for e in estimated})

    def activity(events) -> np.ndarray:
        act = np.zeros((n, len(labels)), bool)
        for e in events:
            a = int(np.floor(e.start_s / segment_s))
            b = int(np.ceil(e.end_s / segment_s)) if e.end_s > e.start_s else a + 1
            act[max(a, 0) : min(b, n), labels.index(e.label)] = True
        return act

    ref, est = activity(reference), activity(estimated)
    tp, fp, fn = (ref & est).sum(0), (~ref & est).sum(0), (ref & ~est).sum(0)
    per_class = {lab: _prf(int(tp[i]), int(fp[i]), int(fn[i]))["f1"] for i, lab in enumerate(labels)}
    return _prf(int(tp.sum()), int(fp.sum()), int(fn.sum())) | {"per_class_f1": per_class, "segment_s": segment_s}
