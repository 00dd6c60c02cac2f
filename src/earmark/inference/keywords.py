"""Keyword spotting on a stream: smoothed posteriors, a threshold and a refractory period.

A keyword model scores the newest window every hop (0.1 s by default,
:func:`earmark.inference.listen.scored_windows`). One spoken keyword keeps
its class on top for several hops, so the raw scores would fire several
times; the spotter

1. averages each keyword's score over the last ``smooth`` hops (a window
   that is not classified, e.g. too quiet, counts as zero), as in the
   posterior smoothing of small-footprint KWS (Chen et al. 2014);
2. fires the best keyword when its smoothed score reaches ``threshold``;
3. then stays silent for ``refractory_s`` seconds (any keyword).

The same rules run live (:class:`KeywordSpotter`, one hop at a time) and
offline over a recorded sequence of scores for every threshold at once
(:func:`smooth_scores`, :func:`spot`), which is how the operating curve is
measured (:mod:`earmark.evaluation.kws`). Other classes of the model
(``_unknown_``, ``_silence_``, keywords not asked for) never fire.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from earmark.errors import ParameterError, check_fraction, check_positive, did_you_mean

DEFAULT_SMOOTH, DEFAULT_REFRACTORY_S, DEFAULT_HOP_S = 3, 1.0, 0.1


@dataclass(frozen=True)
class KeywordEvent:
    """A keyword heard: stream time of the window's end, the keyword, its smoothed score."""

    time_s: float
    keyword: str
    score: float


def keyword_columns(classes: Sequence[str], keywords: Iterable[str]) -> list[int]:
    """Column of each keyword among the model's ``classes``; a clear error names the option and the classes."""
    keywords = [k.strip() for k in keywords]
    if not keywords or not all(keywords):
        raise ParameterError("The 'keywords' parameter must name at least one of the model's classes, comma-separated, e.g. yes,stop.")
    missing = [k for k in keywords if k not in classes]
    if missing:
        raise ParameterError(f"The 'keywords' parameter names {', '.join(missing)}, not among the model's classes "
                             f"({', '.join(classes)}); choose from those.{did_you_mean(missing[0], classes)}")
    if len(set(keywords)) != len(keywords):
        raise ParameterError(f"The 'keywords' parameter names a keyword twice ({','.join(keywords)}); name each once.")
    return [list(classes).index(k) for k in keywords]


def check_spotter_options(*, smooth: int, refractory_s: float, threshold: float | None = None) -> None:
    """Validate the spotter's options (each error names the option); ``threshold`` when given."""
    if threshold is not None:
        check_fraction("threshold", threshold)
    check_positive("smooth", smooth, kind=int)
    if not isinstance(refractory_s, (int, float)) or isinstance(refractory_s, bool) or not refractory_s >= 0:
        raise ParameterError(f"The 'refractory_s' parameter must be a number of seconds >= 0. Got {refractory_s!r} instead.")


class KeywordSpotter:
    """Live keyword events from per-hop class scores.

    Parameters
    ----------
    classes : sequence of str
        The model's classes (the columns of the scores pushed).
    keywords : iterable of str
        The classes that may fire.
    threshold : float
        Smoothed score at which a keyword fires, in (0, 1].
    smooth : int
        Hops averaged (3).
    refractory_s : float
        Seconds after an event during which nothing fires (1.0: one keyword's length).
    """

    def __init__(self, classes: Sequence[str], keywords: Iterable[str], *, threshold: float = 0.5, smooth: int = DEFAULT_SMOOTH,
                 refractory_s: float = DEFAULT_REFRACTORY_S) -> None:
        check_spotter_options(threshold=threshold, smooth=smooth, refractory_s=refractory_s)
        self.columns = keyword_columns(classes, keywords)
        self.keywords = [classes[c] for c in self.columns]
        self.threshold, self.refractory_s = float(threshold), float(refractory_s)
        self._recent: deque = deque(maxlen=int(smooth))
        self._last = -np.inf

    def push(self, time_s: float, proba: np.ndarray | None) -> KeywordEvent | None:
        """The scores of the window ending at ``time_s`` (None: not classified); an event if one fires now."""
        self._recent.append(np.zeros(len(self.columns)) if proba is None else np.asarray(proba, np.float64)[self.columns])
        smoothed = np.mean(self._recent, axis=0)
        k = int(np.argmax(smoothed))
        if smoothed[k] >= self.threshold and time_s - self._last >= self.refractory_s - 1e-9:
            self._last = time_s
            return KeywordEvent(float(time_s), self.keywords[k], float(smoothed[k]))
        return None


def spot_stream(scored: Iterable[tuple], spotter: KeywordSpotter) -> Iterator[tuple[KeywordEvent, float, float]]:
    """Events from :func:`~earmark.inference.listen.scored_windows` output: ``(event, level_db, arrived)``."""
    for end_s, proba, level, arrived in scored:
        event = spotter.push(end_s, proba)
        if event is not None:
            yield event, level, arrived


def smooth_scores(scores: np.ndarray, smooth: int = DEFAULT_SMOOTH) -> np.ndarray:
    """Moving average of ``scores (n_hops, n_keywords)`` over the last ``smooth`` hops (fewer at the start), as
    :class:`KeywordSpotter` does; rows of windows not classified must be zeros."""
    scores = np.asarray(scores, np.float64)
    c = np.cumsum(np.vstack([np.zeros((1, scores.shape[1])), scores]), axis=0)
    n = np.arange(1, len(scores) + 1)
    lo = np.maximum(0, n - smooth)
    return (c[n] - c[lo]) / (n - lo)[:, None]


def spot(times_s: np.ndarray, smoothed: np.ndarray, threshold: float, refractory_s: float = DEFAULT_REFRACTORY_S) -> list[tuple[float, int, float]]:
    """Offline events ``(time_s, keyword column, score)`` from smoothed scores, by the rules of :class:`KeywordSpotter`."""
    best = smoothed.argmax(axis=1)
    top = smoothed[np.arange(len(smoothed)), best]
    events, last = [], -np.inf
    for i in np.flatnonzero(top >= threshold):
        if times_s[i] - last >= refractory_s - 1e-9:
            last = times_s[i]
            events.append((float(times_s[i]), int(best[i]), float(top[i])))
    return events


def keyword_ring_s(model) -> float:
    """Seconds of audio a keyword model scores at each hop: as long as its training clips (their mean length, from the
    model file), at most its front end's window; the whole window for a front end whose live windows always hold one
    (:attr:`~earmark.embeddings.base.Embedder.live_window`).

    A keyword clip is short (1 s in Speech Commands); a front end whose
    window is longer (``speech``: about 2 s, silence put before the clip)
    saw each training clip as one window, so live it scores the newest
    clip-length of audio the same way, not a longer window that would hold
    two of its windows.
    """
    window = float(model.front_end.window_s)
    data = (getattr(model, "info", None) or {}).get("data", {})
    if not model.front_end.live_window and data.get("n_files") and data.get("audio_seconds"):
        return min(window, float(data["audio_seconds"]) / float(data["n_files"]))
    return window


def stream_scores(model, samples: np.ndarray, columns: Sequence[int], *, hop_s: float = DEFAULT_HOP_S,
                  gate_db: float = -50.0, batch: int = 256, ring_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Keyword scores of a recording (at the model's rate) on the live path's windows: ``(end times, scores (n, k))``.

    The windows are those :func:`~earmark.inference.listen.scored_windows`
    scores on a live stream of the same samples (the front end's live windows: the newest ``ring_s``, by default the
    front end's window, every ``hop_s``; the same energy gate), computed as live and scored ``batch`` at a time.
    Windows not classified score zero.
    """
    from earmark.embeddings.base import Embedding

    live = model.front_end.live(hop_s=hop_s, ring_s=ring_s)
    ends, out, cols = [], [], list(columns)
    rows, embs = [], []

    def score() -> None:
        if all(len(e.vectors) == 1 for e in embs):  # one window per ring (the usual case): one call for the batch
            joined = Embedding(np.concatenate([e.vectors for e in embs]), np.concatenate([e.times_s for e in embs]),
                               np.concatenate([e.level_db for e in embs]), float(model.front_end.window_s))
            ws = model.window_scores(joined, gate_db=gate_db)
            heard = ~ws.gated & ~ws.unknown
            for r, h, sc in zip(rows, heard, ws.scores, strict=True):
                if h:
                    out[r] = sc[cols]
        else:
            for r, e in zip(rows, embs, strict=True):
                ws = model.window_scores(e, gate_db=gate_db)
                heard = ~ws.gated & ~ws.unknown
                if heard.any():
                    out[r] = ws.scores[heard].mean(axis=0)[cols]
        rows.clear()
        embs.clear()

    step = max(live.hop, 1 << 15)
    for lo in range(0, len(samples), step):
        for total, level, embed in live.push(samples[lo : lo + step]):
            ends.append(total)
            out.append(np.zeros(len(cols)))
            if level >= gate_db:
                rows.append(len(out) - 1)
                embs.append(embed())
                if len(rows) >= batch:
                    score()
    if rows:
        score()
    return np.array(ends, np.float64) / live.sr, np.array(out).reshape(len(out), len(cols))
