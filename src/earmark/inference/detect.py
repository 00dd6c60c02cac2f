"""Detect events in long recordings with a trained clip model.

Each analysis window of the recording (streamed from disk, constant memory)
gets class probabilities through :meth:`earmark.pipeline.Model.window_scores`;
windows quieter than the model's gate get none. Scores are median-filtered
over windows; with ``exclusive`` (the default for single-label models) each
window keeps only its top class, so events of two classes never overlap.
Then each class is thresholded with hysteresis (an event starts when its score
reaches ``threshold`` and lasts while it stays above ``threshold * low_ratio``);
events closer than ``merge_gap_s`` merge, shorter than ``min_duration_s``
are dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import median_filter

from earmark.data.labels import BACKGROUND, Event
from earmark.errors import check_fraction, check_positive


@dataclass(frozen=True)
class DetectionSettings:
    """How window scores become events (all times in seconds)."""

    threshold: float = 0.5
    low_ratio: float = 0.6
    median_windows: int = 3
    min_duration_s: float = 0.0
    merge_gap_s: float = 0.0
    exclusive: bool = True

    def __post_init__(self) -> None:
        check_fraction("threshold", self.threshold)
        check_fraction("low_ratio", self.low_ratio)
        check_positive("median_windows", self.median_windows, kind=int)
        check_positive("min_duration_s", self.min_duration_s, allow_zero=True)
        check_positive("merge_gap_s", self.merge_gap_s, allow_zero=True)

    def to_dict(self) -> dict:
        return asdict(self)


def detect_events(scores: np.ndarray, centres_s: np.ndarray, classes: list[str], *, window_s: float, hop_s: float,
                  duration_s: float, settings: DetectionSettings = DetectionSettings()) -> list[Event]:
    """Turn window scores into events, sorted by start time.

    Parameters
    ----------
    scores : np.ndarray [shape=(n_windows, n_classes)]
    centres_s : np.ndarray [shape=(n_windows,)]
        Window centres in seconds.
    window_s, hop_s : float
        Window length and hop; an active window stands for its centre
        ± ``hop_s / 2``, so consecutive windows tile the time line and an
        event's edges are known to about half a hop.
    """
    if len(scores) == 0:
        return []
    if settings.median_windows > 1:
        scores = median_filter(scores, size=(settings.median_windows, 1), mode="nearest")
    if settings.exclusive:
        scores = _top_class_only(scores)
    events = []
    half = min(hop_s, window_s) / 2
    for k, label in enumerate(classes):
        if label == BACKGROUND:  # the 'nothing of interest' class of models trained with --labels
            continue
        for a, b in _hysteresis(scores[:, k], settings.threshold, settings.threshold * settings.low_ratio):
            start = max(0.0, centres_s[a] - half)
            end = min(duration_s, centres_s[b - 1] + half)
            seg = scores[a:b, k]
            events.append([start, end, label, float(seg.max()), float(seg.sum()), len(seg)])
    events = _merge(sorted(events), settings.merge_gap_s)
    return [Event(s, e, lab, peak, mean_score=total / n) for s, e, lab, peak, total, n in events if e - s >= settings.min_duration_s]


def _top_class_only(scores: np.ndarray) -> np.ndarray:
    """Zero every score but each window's highest (background counts as a class here)."""
    out = np.zeros_like(scores)
    rows = np.arange(len(scores))
    top = scores.argmax(axis=1)
    out[rows, top] = scores[rows, top]
    return out


def _hysteresis(x: np.ndarray, high: float, low: float) -> list[tuple[int, int]]:
    """Index ranges ``[a, b)`` where ``x`` rises to ``high`` and stays above ``low``."""
    spans, start = [], None
    for i, v in enumerate(x):
        if start is None and v >= high:
            start = i
            while start > 0 and x[start - 1] >= low:  # extend backwards over the rising edge
                start -= 1
        elif start is not None and v < low:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(x)))
    return spans


def _merge(events: list[list], gap_s: float) -> list[list]:
    """Merge same-label events separated by at most ``gap_s`` (input sorted by start)."""
    merged: dict[str, list] = {}
    out = []
    for ev in events:
        last = merged.get(ev[2])
        if last is not None and ev[0] - last[1] <= gap_s:
            last[1] = max(last[1], ev[1])
            last[3] = max(last[3], ev[3])
            last[4] += ev[4]  # score sum and window count: the mean stays over all merged windows
            last[5] += ev[5]
        else:
            merged[ev[2]] = ev
            out.append(ev)
    return out


def detect(model, path, *, settings: DetectionSettings = DetectionSettings(), hop_s: float | None = None, cache=None) -> dict:
    """Events in one recording, with the window scores they came from.

    ``hop_s`` takes the model's windows more densely than in training (the
    features are the same kind, so the estimator applies unchanged), which
    sharpens event edges at the cost of time.

    Returns
    -------
    dict
        ``events`` (list of :class:`Event`), ``scores`` ``(n_windows, n_classes)``,
        ``centres_s``, ``duration_s``, ``classes``, ``settings``.
    """
    if hop_s is not None:
        check_positive("hop_s", hop_s)
    ws = model.window_scores(path, hop_s=hop_s, cache=cache)
    events = detect_events(ws.scores, ws.times_s, ws.classes, window_s=ws.window_s, hop_s=ws.hop_s,
                           duration_s=ws.duration_s, settings=settings)
    return {"events": events, "scores": ws.scores, "centres_s": ws.times_s, "duration_s": ws.duration_s,
            "classes": ws.classes, "settings": settings.to_dict()}
