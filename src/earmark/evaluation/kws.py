"""The keyword detector's operating curve: false accepts per hour against false rejects.

Two kinds of stream are scored once through the live path and then spotted
at every threshold (:mod:`earmark.inference.keywords`):

- **background** recordings with no keyword in them: every event is a false
  accept; false accepts per hour = events / hours of background;
- **keyword streams**: held-out speakers' keyword clips laid into background
  noise every few seconds at a chosen speech-to-noise ratio
  (:func:`mix_keywords`); a keyword is found when an event of *that* keyword
  fires between the clip's start and ``tolerance_s`` after the end of its
  voiced part; false-reject rate = keywords not found / keywords. The noise
  between keywords (outside those spans) counts as background too: an event
  there is a false accept. An event of another keyword inside a span is a
  confusion (counted apart; the keyword is then usually missed).

The threshold for a target false-accept rate is the lowest one at which the
background fires at most that often at it and at every higher threshold.
Latency is the time from the end of the voiced part of a keyword to its
event (the window's end in stream time; computing it adds the compute
latency that ``listen`` reports).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from earmark.augment.stream import VOICED_DB, voiced_span  # noqa: F401  (voiced_span is part of this module's interface)
from earmark.inference.keywords import spot


@dataclass(frozen=True)
class Placement:
    """A keyword laid into a stream: start of the clip, end of its voiced part (stream seconds), keyword column."""

    start_s: float
    voiced_end_s: float
    column: int


def mix_keywords(clips: list[np.ndarray], columns: list[int], background: np.ndarray, *, sr: int, snr_db: float,
                 gap_s: float = 2.0, seed: int = 0) -> tuple[np.ndarray, list[Placement]]:
    """Lay ``clips`` one after another into ``background`` (looped from a random offset) with ``gap_s`` of noise between.

    Each clip is scaled so that the RMS of its voiced part is ``snr_db``
    above the RMS of the background under it; the stream is scaled down as
    a whole if it would clip (ratios unchanged).
    """
    gap = int(gap_s * sr)
    length = gap + sum(len(c) + gap for c in clips)
    rng = np.random.default_rng(seed)
    start = int(rng.integers(0, max(1, len(background))))
    stream = background[(start + np.arange(length)) % len(background)].astype(np.float32)
    placements, at = [], gap
    for y, col in zip(clips, columns, strict=True):
        a, b = voiced_span(y, sr)
        speech = float(np.sqrt(np.mean(y[a:b].astype(np.float64) ** 2)) + 1e-12)
        noise = float(np.sqrt(np.mean(stream[at + a : at + b].astype(np.float64) ** 2)) + 1e-12)
        stream[at : at + len(y)] += (y * (noise * 10 ** (snr_db / 20) / speech)).astype(np.float32)
        placements.append(Placement(at / sr, (at + b) / sr, col))
        at += len(y) + gap
    peak = float(np.abs(stream).max()) if len(stream) else 0.0
    return (stream / peak * 0.99 if peak > 0.99 else stream), placements


def false_accepts(streams: list[tuple[np.ndarray, np.ndarray]], thresholds: np.ndarray, *, refractory_s: float) -> np.ndarray:
    """Events on keyword-free ``(times, smoothed scores)`` streams, per threshold."""
    return np.array([sum(len(spot(t, s, thr, refractory_s)) for t, s in streams) for thr in thresholds])


def score_placements(times: np.ndarray, smoothed: np.ndarray, placements: list[Placement], threshold: float, *,
                     refractory_s: float, tolerance_s: float) -> tuple[list[float | None], int, int]:
    """A keyword stream at one threshold: for each placement the latency (event time - voiced end) of its first
    matching event or None when missed; events outside every span (false accepts); other keywords inside a span
    (confusions)."""
    events = spot(times, smoothed, threshold, refractory_s)
    spans = np.array([(p.start_s, p.voiced_end_s + tolerance_s) for p in placements]).reshape(-1, 2)
    latencies, outside, confused = [], 0, 0
    for t, col, _ in events:
        inside = np.flatnonzero((spans[:, 0] <= t) & (t <= spans[:, 1]))
        if not len(inside):
            outside += 1
        elif all(placements[j].column != col for j in inside):
            confused += 1
    for p, (a, b) in zip(placements, spans, strict=True):
        hit = [t for t, col, _ in events if col == p.column and a <= t <= b]
        latencies.append(hit[0] - p.voiced_end_s if hit else None)
    return latencies, outside, confused


def noise_seconds(times: np.ndarray, placements: list[Placement], *, tolerance_s: float) -> float:
    """Seconds of a keyword stream's scored span outside the keyword spans (where events are false accepts)."""
    if not len(times):
        return 0.0
    covered = sum(min(p.voiced_end_s + tolerance_s, times[-1]) - max(p.start_s, times[0]) for p in placements
                  if p.voiced_end_s + tolerance_s > times[0] and p.start_s < times[-1])
    return float(times[-1] - times[0] - covered)


def operating_curve(background: list[tuple[np.ndarray, np.ndarray]], background_s: float,
                    keyword_streams: dict[float, list[tuple[np.ndarray, np.ndarray, list[Placement]]]], *,
                    thresholds: np.ndarray, refractory_s: float, tolerance_s: float = 1.0) -> dict:
    """False accepts per hour (background recordings and the noise between keywords) and false-reject rate (per SNR
    and pooled) at each threshold."""
    fa = false_accepts(background, thresholds, refractory_s=refractory_s).astype(float)
    confusions = np.zeros(len(thresholds))
    gap_s = sum(noise_seconds(t, p, tolerance_s=tolerance_s) for streams in keyword_streams.values() for t, _, p in streams)
    frr, n_by_snr = {}, {}
    for snr, streams in keyword_streams.items():
        missed = np.zeros(len(thresholds))
        for i, thr in enumerate(thresholds):
            for t, s, p in streams:
                lat, outside, confused = score_placements(t, s, p, thr, refractory_s=refractory_s, tolerance_s=tolerance_s)
                missed[i] += sum(x is None for x in lat)
                fa[i] += outside
                confusions[i] += confused
        n_by_snr[snr] = sum(len(p) for _, _, p in streams)
        frr[snr] = missed / max(1, n_by_snr[snr])
    total = sum(n_by_snr.values())
    pooled = sum(frr[s] * n_by_snr[s] for s in frr) / max(1, total)
    hours = (background_s + gap_s) / 3600
    return {"thresholds": thresholds.tolist(), "false_accepts": fa.astype(int).tolist(), "fa_per_hour": (fa / hours).tolist(),
            "background_hours": hours, "recordings_hours": background_s / 3600, "between_keywords_hours": gap_s / 3600,
            "confusions": confusions.astype(int).tolist(), "frr": {str(s): v.tolist() for s, v in frr.items()},
            "frr_pooled": pooled.tolist(), "keywords_per_snr": {str(s): n for s, n in n_by_snr.items()}}


def threshold_for(curve: dict, target_fa_per_hour: float) -> int | None:
    """Index of the lowest threshold at which, and above which, false accepts per hour stay at or below the target
    (None when even the highest threshold fires more often)."""
    fa = np.asarray(curve["fa_per_hour"])
    bad = np.flatnonzero(fa > target_fa_per_hour + 1e-12)
    i = int(bad[-1] + 1) if len(bad) else 0
    return i if i < len(fa) else None
