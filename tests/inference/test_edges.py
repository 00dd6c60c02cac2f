"""Edge refinement (issue 26, part 3): event edges moved to where the level rises and falls, on bursts of known onset."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from earmark.data.labels import Event
from earmark.inference.detect import level_frames, refine_edges

SR = 16000


def _recording(rng, bursts, duration_s=20.0, floor=0.003):
    y = (floor * rng.standard_normal(int(duration_s * SR))).astype(np.float32)  # a background 40 dB under the bursts
    for start, end in bursts:
        a, b = int(start * SR), int(end * SR)
        y[a:b] += (0.3 * np.sin(2 * np.pi * 440 * np.arange(b - a) / SR)).astype(np.float32)
    return y


def test_edges_smeared_by_a_second_come_back_within_100_ms(rng, tmp_path):
    bursts = [(2.37, 4.81), (9.05, 9.6), (14.2, 17.93)]
    path = tmp_path / "bursts.wav"
    sf.write(path, _recording(rng, bursts), SR)
    smeared = [Event(s - 0.9, e + 0.7, "tone", 0.9) for s, e in bursts]  # as 2-s windows would place them
    refined = refine_edges(smeared, level_frames(path), search_s=1.16)
    for (s, e), ev in zip(bursts, refined):
        assert abs(ev.start_s - s) <= 0.1 and abs(ev.end_s - e) <= 0.1
        assert ev.label == "tone" and ev.score == 0.9


def test_an_edge_without_contrast_stays_where_it_was(rng, tmp_path):
    path = tmp_path / "noise.wav"
    sf.write(path, (0.1 * rng.standard_normal(10 * SR)).astype(np.float32), SR)  # no burst: the same level everywhere
    events = [Event(3.0, 6.0, "x")]
    assert refine_edges(events, level_frames(path), search_s=1.0) == events


def test_level_frames_are_10_ms_in_dbfs(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)).astype(np.float32), SR)
    levels = level_frames(path)
    assert len(levels) == 100
    assert levels[10:90] == pytest.approx(10 * np.log10(0.125), abs=0.05)  # a sine's power is amplitude^2 / 2
