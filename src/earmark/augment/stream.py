"""Stream-like training: clips placed where a live detector meets them, and the background it must not fire on.

A model trained on whole, centred clips is applied live at every offset of
a stream, beside sounds it never saw; it fires on noise and misses words
that sit off-centre. Stream-like training (as openWakeWord trains its
heads, and as hard-negative mining has been done since Viola-Jones) adds
three things to the training set, all drawn from long recordings that hold
none of the classes (the user's ``background`` folders, never the test
material):

1. **positives in background**: ``copies`` versions of every training clip,
   each the clip shifted by a random offset that keeps its voiced part
   inside the window, over an excerpt of a background recording scaled to a
   signal-to-noise ratio drawn uniformly in ``snr_db`` (the clip keeps its
   own level; the background is scaled). They are made and cached like the
   waveform augmentation's copies (:meth:`StreamTraining.copies_of`), so
   they train in the fold of their clip and never test;
2. **negatives**: ``negatives`` excerpts of the background per training clip
   (each as long as a training clip, the window the live detector scores),
   labelled ``label``, and ``partials`` cut-off words per training clip: a
   clip shifted so that only 20-60% of its voiced part, its start or its
   end, is left in the window, over background, also labelled ``label``
   (a live window holds such a part just before and after each word: "yes"
   trailing off is not yet "stop"; with window-long material, half of them
   are instead whole words said 0.9 s or more before the window's end, see
   ``min_window_s``);
3. **hard negatives**, ``rounds`` times: the fitted model runs over the
   background recordings on the live window grid; the windows on which a
   class other than ``label`` scores at least ``threshold``
   (:func:`false_firing`) join the negatives and the model is fitted again.

The draws are kept apart from their application (:meth:`StreamTraining.draw`
and :func:`place`), so each is testable exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from earmark.errors import AudioLoadError, ParameterError, check_fraction, check_number

log = logging.getLogger(__name__)

VOICED_DB = 20.0  # a 10-ms frame within this many dB of a clip's loudest frame is voiced
MIN_BACKGROUND_S = 1.0
END_S = 0.5  # in window-long material, a word's voiced part ends at most this long before the window's end
STALE_S = 0.9  # ... and a word that ended this long before it or more is no longer news (a negative)


def voiced_span(y: np.ndarray, sr: int, *, below_peak_db: float = VOICED_DB) -> tuple[int, int]:
    """First and last sample (end exclusive) of the 10-ms frames within ``below_peak_db`` of the loudest one."""
    frame = max(1, sr // 100)
    n = len(y) // frame
    if n == 0:
        return 0, len(y)
    power = (y[: n * frame].astype(np.float64).reshape(n, frame) ** 2).mean(axis=1)
    db = 10 * np.log10(power + 1e-12)
    on = np.flatnonzero(db >= db.max() - below_peak_db)
    return int(on[0] * frame), int((on[-1] + 1) * frame)


@dataclass(frozen=True)
class Draw:
    """Where one clip goes: its shift in samples (positive: later), the SNR in dB, and the background excerpt
    (recording index and first sample)."""

    shift: int
    snr_db: float
    recording: int
    start: int


def place(y: np.ndarray, background: np.ndarray, draw: Draw, *, sr: int) -> np.ndarray:
    """``y`` shifted by ``draw.shift`` (zeros where it moved away from), over ``background`` (as long as ``y``) scaled
    so that the clip's voiced part is ``draw.snr_db`` above the background under it; scaled down as a whole if the
    sum would clip."""
    y = np.asarray(y, np.float32)
    n = len(y)
    shifted = np.zeros(n, np.float32)
    if draw.shift >= 0:
        shifted[draw.shift :] = y[: n - draw.shift]
    else:
        shifted[: n + draw.shift] = y[-draw.shift :]
    a, b = voiced_span(y, sr)
    a, b = max(0, a + draw.shift), min(n, b + draw.shift)  # the voiced part left in the window
    speech = float(np.sqrt(np.mean(shifted[a:b].astype(np.float64) ** 2)))
    noise = float(np.sqrt(np.mean(background[a:b].astype(np.float64) ** 2)))
    scale = speech / 10 ** (draw.snr_db / 20) / noise if noise > 0 and speech > 0 else 1.0
    out = shifted + (background * scale).astype(np.float32)
    peak = float(np.abs(out).max()) if n else 0.0
    return out / peak * 0.99 if peak > 0.99 else out


def false_firing(scores: np.ndarray, fire_columns, threshold: float, limit: int | None = None) -> np.ndarray:
    """Rows of ``scores (n_windows, n_classes)`` on which a class in ``fire_columns`` scores at least ``threshold``:
    the background windows the model fires on, highest first, at most ``limit``."""
    scores = np.asarray(scores, np.float64)
    if not len(scores):
        return np.zeros(0, int)
    top = scores[:, list(fire_columns)].max(axis=1)
    rows = np.flatnonzero(top >= threshold)
    rows = rows[np.argsort(-top[rows], kind="stable")]
    return rows if limit is None else rows[:limit]


@dataclass(frozen=True)
class StreamTraining:
    """Stream-like training's settings (see the module's description).

    Parameters
    ----------
    background : tuple of str
        Folders (or files) of long recordings with none of the classes in them.
    snr_db : (float, float) or str
        Signal-to-noise ratios of the positives, drawn uniformly between the two (``"0,20"`` as typed).
    copies : int
        Positives in background per training clip.
    negatives : float
        Background excerpts per training clip, labelled ``label``.
    rounds : int
        Rounds of hard-negative mining (0: none).
    partials : float
        Cut-off words per training clip (of the other classes), labelled ``label``.
    label : str
        The class the negatives get (a new class unless the data has it).
    threshold : float
        Score at which a background window counts as a false firing.
    hop_s : float
        Hop of the live window grid the mining runs on.
    min_window_s : float
        Positives, negatives and cut-off words are at least this long (0: a clip's own length); set to the front end's
        window for one whose live windows always hold a whole window (:meth:`for_front_end`). A positive then has
        as much background before it as a live window holds, and its voiced part ends in the window's last
        ``END_S`` (0.5 s), where a live window holds a word just said, as openwakeword aligns its positives: the
        model learns to fire once, as a word ends, not for as long as the word is anywhere in the window: half
        the cut-off words are then words said ``STALE_S`` (0.9 s) or more before the window's end, and every
        positive in background has such a twin (:meth:`stale_words`), labelled ``label``.
    """

    background: tuple[str, ...]
    snr_db: tuple[float, float] = (0.0, 20.0)
    copies: int = 2
    negatives: float = 1.0
    rounds: int = 1
    partials: float = 0.5
    label: str = "background"
    threshold: float = 0.5
    hop_s: float = 0.1
    min_window_s: float = 0.0
    files: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        from earmark.audio import find_audio_files

        background = (self.background,) if isinstance(self.background, (str, Path)) else tuple(self.background)
        if not background:
            raise ParameterError("The 'stream' parameter needs at least one background folder: --stream DIR.")
        object.__setattr__(self, "background", tuple(str(b) for b in background))
        for b in self.background:
            if not Path(b).expanduser().exists():
                raise ParameterError(f"The 'stream' parameter names {b}, which does not exist; give a folder of long recordings with none of the classes in them.")
        files = tuple(str(f) for f in find_audio_files([Path(b).expanduser() for b in self.background]))
        if not files:
            raise ParameterError(f"The 'stream' parameter ({', '.join(self.background)}) holds no audio files; add long recordings with none of "
                                 "the classes (keyword-free speech, noise, other sounds) or pick another folder.")
        object.__setattr__(self, "files", files)
        if isinstance(self.snr_db, str):  # "0,20", as typed
            try:
                object.__setattr__(self, "snr_db", tuple(float(v) for v in self.snr_db.split(",")))
            except ValueError:
                raise ParameterError(f"The 'stream_snr' parameter must be two numbers of dB, low,high (e.g. 0,20). Got {self.snr_db!r} instead.") from None
        if len(self.snr_db) != 2:
            raise ParameterError(f"The 'stream_snr' parameter must be two numbers of dB, low,high (e.g. 0,20). Got {self.snr_db!r} instead.")
        lo, hi = (check_number("stream_snr", v, low=-30, high=60) for v in self.snr_db)
        if lo > hi:
            raise ParameterError(f"The 'stream_snr' parameter ({lo:g},{hi:g}) has its low end above the high end; write low,high (e.g. 0,20).")
        object.__setattr__(self, "snr_db", (float(lo), float(hi)))
        check_number("stream_copies", self.copies, low=0, high=100, integer=True)
        check_number("stream_negatives", self.negatives, low=0, high=100)
        check_number("stream_partials", self.partials, low=0, high=100)
        check_number("hard_negative_rounds", self.rounds, low=0, high=10, integer=True)
        check_fraction("mining_threshold", self.threshold)
        check_number("mining_hop_s", self.hop_s, low=0.01, high=10)
        if not isinstance(self.label, str) or not self.label.strip() or ";" in self.label:
            raise ParameterError(f"The 'stream_label' parameter must name one class (no ';'). Got {self.label!r} instead.")

    def for_front_end(self, front) -> StreamTraining:
        """These settings for ``front``: window-long material when its live windows always hold a whole window."""
        if not front.live_window:
            return self
        return dataclasses.replace(self, min_window_s=float(front.window_s))

    def length(self, n: int, sr: int) -> int:
        """Samples of material made from a clip of ``n`` samples."""
        return max(int(n), int(round(self.min_window_s * sr)))

    def describe(self) -> dict:
        """The settings, for the model file."""
        return {"background": list(self.background), "n_files": len(self.files), "snr_db": list(self.snr_db), "copies": self.copies,
                "negatives_per_clip": self.negatives, "partials_per_clip": self.partials, "hard_negative_rounds": self.rounds, "label": self.label,
                "mining_threshold": self.threshold, "mining_hop_s": self.hop_s, **({"min_window_s": self.min_window_s} if self.min_window_s else {})}

    def fingerprint(self) -> str:
        """A short hash of everything that changes the positives (the background by its files' names and sizes)."""
        d = {"files": [(f, Path(f).stat().st_size) for f in self.files], "snr_db": list(self.snr_db), "copies": self.copies}
        if self.min_window_s:
            d["min_window_s"], d["end_s"], d["stale_s"] = self.min_window_s, END_S, STALE_S
        return "stream-" + hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def recordings(self, sr: int) -> list[np.ndarray]:
        """The background recordings at ``sr`` (read once per process); unreadable or too short ones are left out with a
        warning.

        Raises
        ------
        ParameterError
            If none is usable.
        """
        return _recordings(self.files, sr, self.background)

    def draw(self, n: int, rng: np.random.Generator, *, sr: int, lengths, clip: np.ndarray | None = None) -> Draw:
        """A placement for a window of ``n`` samples: a recording (in proportion to its length) and a start in it; for a
        ``clip``, a shift that keeps its voiced part inside and an SNR."""
        lengths = np.asarray(lengths, np.float64)
        k = int(rng.choice(len(lengths), p=lengths / lengths.sum()))
        start = int(rng.integers(0, max(1, int(lengths[k]) - n + 1)))
        shift, snr = 0, 0.0
        if clip is not None:
            a, b = voiced_span(clip, sr)
            low = -a if not self.min_window_s else max(-a, n - b - int(END_S * sr))  # window-long: the word just ended
            shift = int(rng.integers(low, n - b + 1)) if n - b + a >= 0 else 0
            snr = float(rng.uniform(*self.snr_db))
        return Draw(shift, snr, k, start)

    def excerpt(self, recordings: list[np.ndarray], draw: Draw, n: int) -> np.ndarray:
        """``n`` samples of the drawn recording from the drawn start (looped when the recording is shorter)."""
        y = recordings[draw.recording]
        return y[(draw.start + np.arange(n)) % len(y)].astype(np.float32)

    def copies_of(self, y: np.ndarray, sr: int, seed) -> list[np.ndarray]:
        """``copies`` versions of the clip ``y`` placed over background, the same for the same ``seed``."""
        recs = self.recordings(sr)
        lengths = [len(r) for r in recs]
        base = [int(v) for v in seed] if isinstance(seed, (list, tuple)) else [int(seed)]
        y = _padded(y, self.length(len(y), sr))
        out = []
        for k in range(self.copies):
            rng = np.random.default_rng([*base, k])
            d = self.draw(len(y), rng, sr=sr, lengths=lengths, clip=y)
            out.append(place(y, self.excerpt(recs, d, len(y)), d, sr=sr))
        return out

    def partial_words(self, clips: list[np.ndarray], *, sr: int, seed: int = 0) -> list[np.ndarray]:
        """``round(partials * len(clips))`` cut-off words: drawn clips (as long as they are) shifted by :func:`cut_off`
        over background at a drawn SNR."""
        recs = self.recordings(sr)
        lengths = [len(r) for r in recs]
        rng = np.random.default_rng([int(seed), 11])
        out = []
        for i in rng.choice(len(clips), size=int(round(self.partials * len(clips))), replace=True) if clips else []:
            y = _padded(clips[int(i)], self.length(len(clips[int(i)]), sr))
            d = self.draw(len(y), rng, sr=sr, lengths=lengths, clip=y)
            shift, _ = cut_off(y, rng, sr=sr, stale_s=STALE_S if self.min_window_s else 0.0)
            out.append(place(y, self.excerpt(recs, d, len(y)), Draw(shift, d.snr_db, d.recording, d.start), sr=sr))
        return out

    def stale_words(self, clips: list[np.ndarray], *, sr: int, seed: int = 0) -> list[np.ndarray]:
        """For window-long material (``min_window_s``), ``copies`` words said earlier per clip: each clip placed over
        background at a drawn SNR so that its voiced part ends ``STALE_S`` or more before the window's end
        (:func:`said_earlier`), one for every positive in background, so the model learns when a word is no longer
        news as firmly as the word itself; none otherwise."""
        if not self.min_window_s:
            return []
        recs = self.recordings(sr)
        lengths = [len(r) for r in recs]
        rng = np.random.default_rng([int(seed), 13])
        out = []
        for y in clips:
            y = _padded(y, self.length(len(y), sr))
            for _ in range(self.copies):
                d = self.draw(len(y), rng, sr=sr, lengths=lengths, clip=y)
                shift, _ = said_earlier(y, rng, sr=sr, stale_s=STALE_S)
                out.append(place(y, self.excerpt(recs, d, len(y)), Draw(shift, d.snr_db, d.recording, d.start), sr=sr))
        return out

    def negative_excerpts(self, n_clips: int, n: int, *, sr: int, seed: int = 0) -> list[np.ndarray]:
        """``round(negatives * n_clips)`` background excerpts of ``n`` samples."""
        recs = self.recordings(sr)
        lengths = [len(r) for r in recs]
        rng = np.random.default_rng([int(seed), 7])
        return [self.excerpt(recs, self.draw(n, rng, sr=sr, lengths=lengths), n) for _ in range(int(round(self.negatives * n_clips)))]


def _padded(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` with zeros before it up to ``n`` samples (the word at the end, where a live window holds it first)."""
    y = np.asarray(y, np.float32)
    return np.concatenate([np.zeros(n - len(y), np.float32), y]) if n > len(y) else y


@functools.lru_cache(maxsize=4)
def _recordings(files: tuple[str, ...], sr: int, given: tuple[str, ...]) -> list[np.ndarray]:
    from earmark.audio import load

    out = []
    for f in files:
        try:
            y = load(f, sr=sr, min_duration_s=0)[0]
        except AudioLoadError as exc:
            log.warning("stream background %s left out: %s", f, exc)
            continue
        if len(y) < MIN_BACKGROUND_S * sr or not np.any(y):
            log.warning("stream background %s left out: %s", f, "silent" if len(y) and not np.any(y) else f"shorter than {MIN_BACKGROUND_S:g} s")
            continue
        out.append(y)
    if not out:
        raise ParameterError(f"The 'stream' parameter ({', '.join(given)}): none of its {len(files)} audio files is usable (unreadable, silent or "
                             f"shorter than {MIN_BACKGROUND_S:g} s); add long recordings with none of the classes.")
    return out


def cut_off(y: np.ndarray, rng: np.random.Generator, *, sr: int, stale_s: float = 0.0) -> tuple[int, float]:
    """A shift that leaves 20-60% of ``y``'s voiced part in the window, its start (at the window's end) or its end (at
    the window's start), and that fraction. With ``stale_s`` (window-long material), the second kind is a word
    said earlier: its voiced part ends ``stale_s`` or more before the window's end, whole or cut at the window's
    start, and the fraction left is returned for it too."""
    n = len(y)
    a, b = voiced_span(y, sr)
    if rng.random() < 0.5:  # the word has begun, not ended
        keep = float(rng.uniform(0.2, 0.6))
        shift = n - max(1, int(keep * (b - a))) - a
    elif not stale_s:
        keep = float(rng.uniform(0.2, 0.6))
        shift = -(b - max(1, int(keep * (b - a))))
    else:
        shift, keep = said_earlier(y, rng, sr=sr, stale_s=stale_s)
    return int(np.clip(shift, -n + 1, n - 1)), keep


def said_earlier(y: np.ndarray, rng: np.random.Generator, *, sr: int, stale_s: float) -> tuple[int, float]:
    """A shift after which ``y``'s voiced part ends ``stale_s`` or more before the window's end, whole or cut at the
    window's start (at least 40% of it left), and the fraction left."""
    n = len(y)
    a, b = voiced_span(y, sr)
    first = int(0.4 * (b - a))
    end = int(rng.integers(first, max(first, n - int(stale_s * sr)) + 1))
    return int(np.clip(end - b, -n + 1, n - 1)), min(1.0, end / max(1, b - a))
