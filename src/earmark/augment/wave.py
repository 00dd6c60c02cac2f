"""Waveform augmentation with audiomentations: shifted, stretched, pitched, louder, noisier copies of a clip.

Each training clip gets ``copies`` augmented versions, drawn before
training and featurised by the same front end as the originals (as Salamon
& Bello augmented SB-CNN's data); the copies join the training set of every
fold the clip trains in and never a test set. A copy is a pure function of
the clip's content, the augmentation, the seed and the copy's number, so
it is computed once and cached with the clip's features.

audiomentations draws from Python's and NumPy's global generators; every
draw here runs inside :func:`_seeded`, which seeds both and restores them
afterwards, so nothing else sees the seeding.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from earmark.errors import ParameterError, check_fraction, check_positive

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


@dataclass(frozen=True)
class WaveAugment:
    """Which waveform transforms run, how strongly, and how many copies each clip gets.

    Parameters
    ----------
    shift : float or None
        Circular time shift of up to this fraction of the clip, either way.
    stretch : float or None
        Time stretch by a rate in ``[1 - stretch, 1 + stretch]``, length kept.
    pitch : float or None
        Pitch shift of up to this many semitones either way (2 is about 12%).
    gain : float or None
        Gain change of up to this many dB either way.
    noise : float or None
        Gaussian noise at a signal-to-noise ratio from this many dB to 20 dB more.
    background : str or None
        Folder of recordings mixed in at ``background_snr`` to 20 dB more.
    background_snr : float
    p : float
        Probability that each transform runs on a copy.
    copies : int
        Augmented copies per training clip.
    """

    shift: float | None = None
    stretch: float | None = None
    pitch: float | None = None
    gain: float | None = None
    noise: float | None = None
    background: str | None = None
    background_snr: float = 3.0
    p: float = 0.8
    copies: int = 2

    def __post_init__(self) -> None:
        if self.shift is not None:
            check_fraction("augment shift", self.shift)
        if self.stretch is not None and not 0 < self.stretch < 1:
            raise ParameterError(f"The 'augment' parameter's stretch must be in (0, 1) (a rate change). Got {self.stretch!r} instead.")
        for name in ("pitch", "gain"):
            if getattr(self, name) is not None:
                check_positive(f"augment {name}", getattr(self, name))
        check_fraction("augment p", self.p)
        check_positive("augment copies", self.copies, kind=int)
        if self.background is not None:
            folder = Path(self.background).expanduser()
            if not folder.is_dir():
                raise ParameterError(f"The 'augment' parameter's background={self.background} is not a folder; "
                                     "give a folder of background recordings.")
            if not any(p.suffix.lower() in AUDIO_SUFFIXES for p in folder.rglob("*")):
                raise ParameterError(f"The 'augment' parameter's background={self.background} holds no audio files "
                                     f"({', '.join(AUDIO_SUFFIXES)}); add recordings or pick another folder.")

    def fingerprint(self) -> str:
        """A short hash of everything that changes the copies (the background folder by its files' names and sizes)."""
        return _fingerprint(self)

    def _fingerprint(self) -> str:
        d = asdict(self)
        if self.background is not None:
            folder = Path(self.background).expanduser()
            d["background"] = sorted((str(p.relative_to(folder)), p.stat().st_size) for p in _audio_files(folder))
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def transforms(self) -> list:
        """The audiomentations transforms, in a fixed order."""
        import audiomentations as A

        out = []
        if self.shift is not None:
            out.append(A.Shift(min_shift=-self.shift, max_shift=self.shift, shift_unit="fraction", rollover=True, p=self.p))
        if self.stretch is not None:
            out.append(A.TimeStretch(min_rate=1 - self.stretch, max_rate=1 + self.stretch, leave_length_unchanged=True, p=self.p))
        if self.pitch is not None:
            out.append(A.PitchShift(min_semitones=-self.pitch, max_semitones=self.pitch, p=self.p))
        if self.gain is not None:
            out.append(A.Gain(min_gain_db=-self.gain, max_gain_db=self.gain, p=self.p))
        if self.noise is not None:
            out.append(A.AddGaussianSNR(min_snr_db=self.noise, max_snr_db=self.noise + 20, p=self.p))
        if self.background is not None:
            out.append(A.AddBackgroundNoise(sounds_path=[str(f) for f in _audio_files(Path(self.background).expanduser())],
                                            min_snr_db=self.background_snr, max_snr_db=self.background_snr + 20, p=self.p))
        return out

    def copies_of(self, y: np.ndarray, sr: int, seed) -> list[np.ndarray]:
        """``copies`` augmented versions of mono ``y``, the same for the same ``seed`` (an int or a list of ints)."""
        import audiomentations as A

        chain = A.Compose(self.transforms(), p=1.0)
        y = np.asarray(y, dtype=np.float32)
        base = [int(v) for v in seed] if isinstance(seed, (list, tuple)) else [int(seed)]
        out = []
        for k in range(self.copies):
            with _seeded([*base, k]):
                out.append(apply_chain(chain, y, sr))
        return out


def apply_chain(chain, y: np.ndarray, sr: int) -> np.ndarray:
    """Run an audiomentations chain on ``y``; the result is float32, finite and as long as ``y``."""
    out = np.asarray(chain(samples=y, sample_rate=sr), dtype=np.float32)
    if len(out) != len(y):  # transforms keep the length; guard anyway so windows line up with the original
        out = np.pad(out, (0, max(0, len(y) - len(out))))[: len(y)]
    return np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0)


@functools.lru_cache(maxsize=16)
def _fingerprint(augment: WaveAugment) -> str:
    return augment._fingerprint()


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


@contextmanager
def _seeded(seed) -> Iterator[None]:
    """Seed Python's and NumPy's global generators from ``seed`` for the block, then restore them."""
    py_state, np_state = random.getstate(), np.random.get_state()
    entropy = np.random.SeedSequence(seed).generate_state(1)[0]
    random.seed(int(entropy))
    np.random.seed(int(entropy))
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


_WAVE_DEFAULTS = {"shift": 0.25, "stretch": 0.15, "pitch": 2.0, "gain": 6.0, "noise": 10.0}


def wave_augment(options: dict) -> WaveAugment | None:
    """A :class:`WaveAugment` from parsed ``--augment`` options (None when no waveform transform is named)."""
    kw = {}
    for name, default in _WAVE_DEFAULTS.items():
        if name in options:
            kw[name] = default if options[name] is None else _number(name, options[name])
    if "background" in options:
        if not options["background"]:
            raise ParameterError("The 'augment' parameter's background needs a folder: background=DIR.")
        kw["background"] = options["background"]
    if not kw:
        for extra in ("copies", "p", "background_snr"):
            if extra in options:
                raise ParameterError(f"The 'augment' parameter sets {extra} but names no waveform transform; "
                                     "add shift, stretch, pitch, gain, noise or background=DIR.")
        return None
    for name in ("background_snr", "p"):
        if options.get(name) is not None:
            kw[name] = _number(name, options[name])
    if options.get("copies") is not None:
        kw["copies"] = int(_number("copies", options["copies"]))
    return WaveAugment(**kw)


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        example = _WAVE_DEFAULTS.get(name, {"copies": 2, "p": 0.8, "background_snr": 10}.get(name, 1))
        raise ParameterError(f"The 'augment' parameter's {name}={text} is not a number; write e.g. {name}={example:g}.") from None
