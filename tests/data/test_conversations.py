"""Conversations with known boundaries (issue 26, part 4): draws against known answers, audio where the turns say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from earmark.data.conversations import LEVEL_RMS, ConversationSettings, active_part, plan_conversation, render
from earmark.errors import ParameterError

SR = 16000


def _burst(rng, on_s: float, pad_s: float = 0.3) -> np.ndarray:
    pad = np.zeros(int(pad_s * SR), np.float32)
    return np.concatenate([pad, (0.3 * rng.standard_normal(int(on_s * SR))).astype(np.float32), pad])


def test_active_part_trims_the_silence_and_sets_the_level(rng):
    part = active_part(_burst(rng, 0.5), SR)
    assert abs(len(part) / SR - 0.5) <= 0.011
    assert np.sqrt(np.mean(part.astype(np.float64) ** 2)) == pytest.approx(LEVEL_RMS, rel=1e-3)


@pytest.fixture
def clips(rng):
    """Three speakers, each with four words of known, distinct lengths."""
    return {s: [(Path(f"{s}{i}.wav"), active_part(_burst(rng, length + 0.05 * i), SR)) for i in range(4)]
            for s, length in (("ann", 0.3), ("bob", 0.5), ("cy", 0.7))}


def test_turns_alternate_and_cover_their_words_exactly(clips):
    settings = ConversationSettings(duration_s=30.0, overlap_p=0.0)
    words, turns = plan_conversation(clips, SR, np.random.default_rng(1), settings)
    assert len(turns) >= 5 and all(a.speaker != b.speaker for a, b in zip(turns, turns[1:]))
    assert turns[-1].end_s <= 30.0
    for turn in turns:  # a turn runs from its first word's start to its last word's end, and holds only its speaker's
        inside = [w for w in words if turn.start_s * SR <= w.start < turn.end_s * SR]
        assert {w.speaker for w in inside} == {turn.speaker}
        assert inside[0].start == round(turn.start_s * SR)
        assert inside[-1].start + len(inside[-1].samples) == round(turn.end_s * SR)
        assert 1 <= len(inside) <= 3
    for a, b in zip(turns, turns[1:]):  # no overlap asked: a pause of 0.2-1 s between turns
        assert 0.2 - 1e-4 <= b.start_s - a.end_s <= 1.0 + 1e-4


def test_overlapping_turns_are_mixed(clips):
    settings = ConversationSettings(duration_s=20.0, overlap_p=1.0, clips_per_turn=(2, 2))
    words, turns = plan_conversation(clips, SR, np.random.default_rng(2), settings)
    overlaps = [b.start_s - a.end_s for a, b in zip(turns, turns[1:])]
    assert all(-0.4 - 1e-4 <= o < 0 for o in overlaps)
    y = render(words, SR, settings.duration_s)
    a, b = turns[0], turns[1]
    both = y[round(b.start_s * SR) : round(a.end_s * SR)]
    assert np.sqrt(np.mean(both.astype(np.float64) ** 2)) > 1.2 * LEVEL_RMS  # two voices at once are louder than one
    assert np.abs(y[: round(turns[0].start_s * SR)]).max() == 0  # silence before the first turn


def test_the_same_seed_gives_the_same_conversation(clips):
    one = plan_conversation(clips, SR, np.random.default_rng(7))[1]
    two = plan_conversation(clips, SR, np.random.default_rng(7))[1]
    assert one == two


def test_one_speaker_is_no_conversation(clips):
    with pytest.raises(ParameterError, match="at least 2 speakers"):
        plan_conversation({"ann": clips["ann"]}, SR, np.random.default_rng(0))
