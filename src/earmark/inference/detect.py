"""Detect events in long recordings with a trained clip model.

Each analysis window of the recording (streamed from disk, constant memory)
gets class probabilities through :meth:`earmark.pipeline.Model.window_scores`;
windows quieter than the model's gate get none. Scores are median-filtered
over windows; with ``exclusive`` (the default for single-label models) each
window keeps only its top class, so events of two classes never overlap.
Then each class is thresholded with hysteresis (an event starts when its score
reaches ``threshold`` and lasts while it stays above ``threshold * low_ratio``);
events closer than ``merge_gap_s`` merge, shorter than ``min_duration_s``
are dropped. With ``one_label_per_event`` (for classes that never overlap),
the stretches where any class leads are found first and each takes the one
class whose mean score over it is highest, as a clip is classified, instead
of each window voting for itself. With ``refine_edges``, each event's start and end are then moved
to where the sound's level crosses halfway (in dB) between the background
around the event and the event's loudest part, within half a window of the
edge found from the windows (:func:`refine_edges`, 10-ms level frames).

With a ``labeller`` (a second, clip model: :func:`label_events`), the detector
says where and the labeller says what: each event keeps its edges and takes
the label the clip model gives the windows it spans, as it would the clip
cut there. A frame model from few strong labels finds edges well but names
sounds worse than a pretrained clip model, which smears edges by a window;
together they do both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

from earmark.data.labels import BACKGROUND, Event
from earmark.errors import ParameterError, check_fraction, check_positive


@dataclass(frozen=True)
class DetectionSettings:
    """How window scores become events (all times in seconds)."""

    threshold: float = 0.5
    low_ratio: float = 0.6
    median_windows: int = 3
    min_duration_s: float = 0.0
    merge_gap_s: float = 0.0
    exclusive: bool = True
    refine_edges: bool = False
    one_label_per_event: bool = False

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
    events = []
    half = min(hop_s, window_s) / 2
    keep = [k for k, label in enumerate(classes) if label != BACKGROUND]  # background: the 'nothing of interest' class of --labels
    for k, a, b in _labelled_spans(scores, keep, settings):
        start = max(0.0, centres_s[a] - half)
        end = min(duration_s, centres_s[b - 1] + half)
        seg = scores[a:b, k]
        events.append([start, end, classes[k], float(seg.max()), float(seg.sum()), len(seg)])
    events = _merge(sorted(events), settings.merge_gap_s)
    return [Event(s, e, lab, peak, mean_score=total / n) for s, e, lab, peak, total, n in events if e - s >= settings.min_duration_s]


def _labelled_spans(scores: np.ndarray, keep: list[int], settings: DetectionSettings) -> list[tuple[int, int, int]]:
    """``(class, first window, one past the last)`` of every stretch the settings make an event."""
    high, low = settings.threshold, settings.threshold * settings.low_ratio
    if settings.one_label_per_event and keep:
        leading = _top_class_only(scores)[:, keep].max(axis=1)  # a window where background leads is no activity
        return [(keep[int(np.argmax(scores[a:b, keep].mean(axis=0)))], a, b) for a, b in _hysteresis(leading, high, low)]
    if settings.exclusive:
        scores = _top_class_only(scores)
    return [(k, a, b) for k in keep for a, b in _hysteresis(scores[:, k], high, low)]


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


LEVEL_FRAME_S = 0.01
MIN_CONTRAST_DB = 6.0  # an edge moves only where the event stands this far above the background around it


def level_frames(path, *, frame_s: float = LEVEL_FRAME_S) -> np.ndarray:
    """The recording's level in dBFS per ``frame_s`` frame (RMS, floor -120), streamed from disk."""
    from earmark.audio.io import audio_info, stream

    sr = audio_info(path, min_duration_s=0).sample_rate
    frame = max(1, int(round(frame_s * sr)))
    out, rest = [], np.zeros(0, np.float32)
    for chunk in stream(path, min_duration_s=0):
        x = np.concatenate([rest, chunk])
        n = len(x) // frame
        if n:
            power = np.mean(x[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)
            out.append(10 * np.log10(np.maximum(power, 1e-12)))
        rest = x[n * frame :]
    return np.concatenate(out) if out else np.zeros(0)


def refine_edges(events: list[Event], levels_db: np.ndarray, *, frame_s: float = LEVEL_FRAME_S, search_s: float) -> list[Event]:
    """``events`` with each edge moved to where the level crosses halfway between the background and the event.

    The background is the median level of the ``search_s`` before the start
    (after the end, for the end); the event's level, the 90th percentile inside
    it. The new start is the first frame above halfway (in dB) from
    ``search_s`` before the old start; the new end, one past the last such frame
    up to ``search_s`` after the old end. An edge stays where it was when the
    event is not ``MIN_CONTRAST_DB`` above that background, or the crossing is
    not found in the search range.
    """
    n = len(levels_db)
    reach = max(1, int(round(search_s / frame_s)))
    out = []
    for e in events:
        a, b = int(e.start_s / frame_s), min(n, int(np.ceil(e.end_s / frame_s)))
        if b <= a or a >= n:
            out.append(e)
            continue
        loud = float(np.percentile(levels_db[a:b], 90))
        start, end = e.start_s, e.end_s
        before = levels_db[max(0, a - reach) : a]
        if len(before) and loud - float(np.median(before)) >= MIN_CONTRAST_DB:
            half = (loud + float(np.median(before))) / 2
            lo = max(0, a - reach)
            above = np.flatnonzero(levels_db[lo : min(n, a + reach)] > half)
            if len(above):
                start = (lo + int(above[0])) * frame_s
        after = levels_db[b : min(n, b + reach)]
        if len(after) and loud - float(np.median(after)) >= MIN_CONTRAST_DB:
            half = (loud + float(np.median(after))) / 2
            lo = max(0, b - reach)
            above = np.flatnonzero(levels_db[lo : min(n, b + reach)] > half)
            if len(above):
                end = (lo + int(above[-1]) + 1) * frame_s
        if end > start:
            out.append(Event(start, end, e.label, e.score, e.low_hz, e.high_hz, e.mean_score))
        else:
            out.append(e)
    return out


def label_events(events: list[Event], labeller, emb) -> list[Event]:
    """Each event's label from the clip model ``labeller``, given its windows ``emb`` over the whole recording.

    The windows that overlap an event (the nearest one if none does) are
    classified together as a clip is (:meth:`earmark.pipeline.Model.predict_embedding`);
    the event keeps its edges and takes that label, its ``score`` and
    ``mean_score`` the label's probability. A labeller that rejects names the
    event ``unknown`` below its threshold, a tagger gives its most probable
    tag; an event the labeller finds nothing in (its windows silent, or no
    tag at its threshold) keeps its own label.
    """
    from earmark.embeddings.base import Embedding

    half = labeller.front_end.window_s / 2
    out = []
    for e in events:
        near = (emb.times_s + half > e.start_s) & (emb.times_s - half < e.end_s)
        if not near.any() and len(emb.times_s):
            near = np.arange(len(emb.times_s)) == np.argmin(np.abs(emb.times_s - (e.start_s + e.end_s) / 2))
        pred = labeller.predict_embedding(Embedding(emb.vectors[near], emb.times_s[near], emb.level_db[near], e.end_s - e.start_s),
                                          "", top_k=1)
        if pred.silent or not pred.labels:
            out.append(e)
            continue
        label = pred.label if pred.unknown else pred.labels[0]  # a tagger's: its most probable tag
        out.append(Event(e.start_s, e.end_s, label, pred.scores[0], e.low_hz, e.high_hz, pred.scores[0]))
    return out


def detect(model, path, *, settings: DetectionSettings = DetectionSettings(), hop_s: float | None = None, cache=None,
           labeller=None, recording=None) -> dict:
    """Events in one recording (``path``: its file, or its window features already made), with the window scores
    they came from.

    ``hop_s`` takes the model's windows more densely than in training (the
    features are the same kind, so the estimator applies unchanged), which
    sharpens event edges at the cost of time. ``labeller``, a clip model,
    names each event found (:func:`label_events`). ``recording`` is the file
    the windows came from (default: ``path``, when it is a file): edge
    refinement reads its level (without one, edges stay as the windows give
    them), a labeller its audio.

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
    if recording is None and isinstance(path, (str, Path)):
        recording = path
    if settings.refine_edges and events and recording is not None:
        events = refine_edges(events, level_frames(recording), search_s=ws.window_s / 2)
    if labeller is not None and events:
        if recording is None:
            raise ParameterError("A labeller reads the recording itself: give detect its file (recording=), not only window features.")
        events = label_events(events, labeller, labeller.embed(recording, cache=cache))
    return {"events": events, "scores": ws.scores, "centres_s": ws.times_s, "duration_s": ws.duration_s,
            "classes": ws.classes, "settings": settings.to_dict()}
