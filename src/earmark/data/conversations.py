"""Conversations with known boundaries, built from speaker-labelled clips: the material to measure who speaks when.

A conversation is a sequence of *turns*: one speaker says one to three of
their clips, a short pause apart, then another speaker takes over after a
pause, or, with probability ``overlap_p``, starts before the last one has
finished (the two are mixed). Each clip is trimmed to its active part (from
its first to its last 10-ms frame within ``active_db`` of its loudest) and
scaled to a common RMS, so a turn's reference extent is where speech is
heard. The reference is one row per turn: ``start_s``, ``end_s``, ``speaker``
(pauses inside a turn belong to it, as in the field's reference files).

The draw (speakers, clips, pauses, overlaps) is separated from the mixing:
:func:`plan_conversation` draws the turns from a generator,
:func:`render` places the audio, so a plan can be checked exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from earmark.errors import ParameterError, check_number

ACTIVE_DB = 35.0
FRAME_S = 0.01
LEVEL_RMS = 0.05  # every clip's active part is scaled to this RMS (-26 dBFS)


@dataclass(frozen=True)
class Word:
    """One clip as placed: its source, the sample where its active part starts in the conversation, its length."""

    speaker: str
    source: Path
    start: int
    samples: np.ndarray


@dataclass(frozen=True)
class Turn:
    """A reference turn: who speaks from ``start_s`` to ``end_s``."""

    speaker: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class ConversationSettings:
    """How conversations are drawn (seconds)."""

    duration_s: float = 60.0
    clips_per_turn: tuple[int, int] = (1, 3)
    word_gap_s: tuple[float, float] = (0.05, 0.25)
    pause_s: tuple[float, float] = (0.2, 1.0)
    overlap_p: float = 0.1
    overlap_s: tuple[float, float] = (0.1, 0.4)

    def __post_init__(self) -> None:
        check_number("duration_s", self.duration_s, low=1, high=3600, unit="seconds")
        check_number("overlap_p", self.overlap_p, low=0, high=1)
        for name in ("clips_per_turn", "word_gap_s", "pause_s", "overlap_s"):
            low, high = getattr(self, name)
            check_number(name, low, low=0, high=60)
            check_number(name, high, low=low, high=60)


def active_part(y: np.ndarray, sr: int, *, active_db: float = ACTIVE_DB) -> np.ndarray:
    """``y`` from its first to its last 10-ms frame within ``active_db`` of its loudest, scaled to ``LEVEL_RMS``."""
    frame = max(1, int(round(FRAME_S * sr)))
    n = len(y) // frame
    if n == 0:
        return np.zeros(0, np.float32)
    rms = np.sqrt(np.mean(y[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)) + 1e-12
    on = np.flatnonzero(20 * np.log10(rms / rms.max()) > -active_db)
    part = y[on[0] * frame : (on[-1] + 1) * frame].astype(np.float32)
    level = float(np.sqrt(np.mean(part.astype(np.float64) ** 2)))
    return part * (LEVEL_RMS / level) if level > 0 else part


def plan_conversation(clips: dict[str, list[tuple[Path, np.ndarray]]], sr: int, rng: np.random.Generator,
                      settings: ConversationSettings = ConversationSettings()) -> tuple[list[Word], list[Turn]]:
    """Draw the words and reference turns of one conversation among ``clips`` (speaker -> ``(path, active audio)``).

    Speakers take turns at random, never the same one twice in a row; clips
    are drawn without replacement within the conversation while a speaker has
    some left. The conversation ends with the first turn that would pass
    ``settings.duration_s``.
    """
    speakers = sorted(s for s, c in clips.items() if c)
    if len(speakers) < 2:
        raise ParameterError(f"A conversation needs at least 2 speakers with clips; got {len(speakers)}.")
    limit = int(settings.duration_s * sr)
    left = {s: list(rng.permutation(len(clips[s]))) for s in speakers}
    words: list[Word] = []
    turns: list[Turn] = []
    at, last, previous_end = int(rng.uniform(0.2, 0.8) * sr), None, 0
    while True:
        speaker = str(rng.choice([s for s in speakers if s != last]))
        n = int(rng.integers(settings.clips_per_turn[0], settings.clips_per_turn[1] + 1))
        placed, cursor = [], at
        for _ in range(n):
            if not left[speaker]:
                left[speaker] = list(rng.permutation(len(clips[speaker])))
            path, audio = clips[speaker][left[speaker].pop()]
            placed.append(Word(speaker, path, cursor, audio))
            cursor += len(audio) + int(rng.uniform(*settings.word_gap_s) * sr)
        end = placed[-1].start + len(placed[-1].samples)
        if end > limit:
            break
        words += placed
        turns.append(Turn(speaker, at / sr, end / sr))
        last, previous_end = speaker, end
        if rng.random() < settings.overlap_p:  # the next speaker starts before this one has finished
            at = max(placed[-1].start, end - int(rng.uniform(*settings.overlap_s) * sr))
        else:
            at = end + int(rng.uniform(*settings.pause_s) * sr)
    if len(turns) < 2:
        raise ParameterError(f"duration_s={settings.duration_s:g} holds fewer than two turns of these clips; make it longer.")
    return words, turns


def render(words: list[Word], sr: int, duration_s: float) -> np.ndarray:
    """The conversation's audio: every word added at its place (overlapping turns are mixed), float32."""
    y = np.zeros(int(round(duration_s * sr)), np.float32)
    for w in words:
        y[w.start : w.start + len(w.samples)] += w.samples[: max(0, len(y) - w.start)]
    peak = float(np.abs(y).max())
    return y * (0.9 / peak) if peak > 0.9 else y
