"""Decode audio files with libsndfile (soundfile) and resample with soxr.

Files are read in blocks; :func:`stream` yields mono float32 chunks at the
requested rate, so a long recording never needs to be in memory whole.
:func:`load` is :func:`stream` collected, so both paths give identical samples.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from earmark.errors import AudioLoadError, ParameterError, check_positive

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
MIN_DURATION_S = 0.1
BLOCK_FRAMES = 1 << 18  # about 6 s at 44.1 kHz
# libsndfile's log for a WAV whose data chunk runs past the end of the file
_TRUNCATED = re.compile(r"^data\s*:\s*(\d+) \(should be (\d+)\)", re.MULTILINE)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header."""

    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def audio_info(path: str | Path, *, min_duration_s: float = MIN_DURATION_S) -> AudioInfo:
    """Read and check a file's header.

    Examples
    --------
    >>> info = audio_info("data/demo/unseen/2-100786-A-1.flac")
    >>> info.sample_rate, info.channels, info.frames, info.duration_s
    (44100, 1, 220500, 5.0)

    Raises
    ------
    AudioLoadError
        If the file is missing, empty, of an unsupported type, undecodable or
        shorter than ``min_duration_s``.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise AudioLoadError(f"{path}: a broken symbolic link or a link loop; fix or remove the link.")
    if path.is_dir():
        raise AudioLoadError(f"{path}: is a folder, not an audio file; pass the files inside it.")
    if not path.is_file():
        if path.exists():  # a named pipe, device or socket: never opened (a pipe would wait for a writer forever)
            raise AudioLoadError(f"{path}: is not a regular file (a named pipe, device or socket); pass an audio file.")
        raise AudioLoadError(f"{path}: no such file; check the path.")
    if not os.access(path, os.R_OK):
        raise AudioLoadError(f"{path}: cannot be read (permission denied); check the file's permissions.")
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise AudioLoadError(
            f"{path}: unsupported file type '{path.suffix}'; convert it to one of "
            f"{', '.join(SUPPORTED_EXTENSIONS)} (for example with ffmpeg)."
        )
    if path.stat().st_size == 0:
        raise AudioLoadError(f"{path}: the file is empty (0 bytes); re-export or remove it.")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioLoadError(f"{path}: not a readable audio file ({_short(exc)}); re-export or remove it.") from None
    truncated = _TRUNCATED.search(info.extra_info or "")
    if truncated:
        raise AudioLoadError(
            f"{path}: truncated, the header promises {truncated.group(1)} bytes of audio but only "
            f"{truncated.group(2)} are there; re-export or remove the file."
        )
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioLoadError(f"{path}: holds no audio samples; re-export or remove it.")
    result = AudioInfo(path=path, sample_rate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames))
    if result.duration_s < min_duration_s:
        raise AudioLoadError(
            f"{path}: clip is {result.duration_s:.3f} s long, shorter than the {min_duration_s} s minimum; "
            "use a longer clip or lower min_duration_s."
        )
    return result


def stream(
    path: str | Path,
    *,
    sr: int | None = None,
    block_frames: int = BLOCK_FRAMES,
    min_duration_s: float = MIN_DURATION_S,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield a file's audio as mono float32 chunks at ``sr`` Hz.

    Parameters
    ----------
    path : str or Path
    sr : int or None
        Target sample rate in Hz; ``None`` keeps the file's rate.
    block_frames : int
        Frames decoded per block (memory use is a few times this).
    start, stop : int
        Decode only the file's frames ``start`` to ``stop`` (at the file's own
        rate; ``stop=None``: to the end), resampled as a stream of their own.

    Yields
    ------
    np.ndarray [shape=(n,), dtype=float32]

    Raises
    ------
    AudioLoadError
        For unreadable, truncated or non-finite audio; the message names the file.
    """
    info = audio_info(path, min_duration_s=min_duration_s)
    check_positive("block_frames", block_frames, kind=int)
    if sr is not None:
        check_positive("sr", sr, kind=int)
    resampler = None
    if sr is not None and sr != info.sample_rate:
        resampler = soxr.ResampleStream(info.sample_rate, sr, 1, dtype="float32", quality="HQ")
    if not 0 <= start <= info.frames or (stop is not None and not start <= stop):
        raise ParameterError(f"{info.path}: frames {start} to {stop} are not a span of its {info.frames} frames.")
    end = info.frames if stop is None else min(stop, info.frames)
    n_read = start
    try:
        with sf.SoundFile(str(info.path)) as f:
            if start:
                f.seek(start)
            while True:
                want = block_frames if stop is None else min(block_frames, end - n_read)
                block = f.read(want, dtype="float32", always_2d=True)
                last = len(block) < want or (stop is not None and n_read + len(block) >= end)
                n_read += len(block)
                mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
                if not np.isfinite(mono).all():
                    raise AudioLoadError(
                        f"{info.path}: contains NaN or infinite samples near {n_read / info.sample_rate:.2f} s; "
                        "re-export the file."
                    )
                out = resampler.resample_chunk(mono, last=last) if resampler else mono
                if len(out):
                    yield np.ascontiguousarray(out, dtype=np.float32)
                if last:
                    break
    except sf.LibsndfileError as exc:
        raise AudioLoadError(f"{info.path}: decoding failed after {n_read} frames ({_short(exc)}); re-export the file.") from None
    if n_read < end:
        raise AudioLoadError(
            f"{info.path}: truncated, header promises {info.frames} frames but only {n_read} could be read; "
            "re-export or remove the file."
        )


def load(path: str | Path, *, sr: int | None = None, min_duration_s: float = MIN_DURATION_S) -> tuple[np.ndarray, int]:
    """Load a whole file as mono float32 at ``sr`` Hz.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
    sr : int
        The sample rate of ``y``.

    Examples
    --------
    >>> y, sr = load("data/demo/unseen/2-100786-A-1.flac", sr=22050)
    >>> y.shape, y.dtype, sr
    ((110250,), dtype('float32'), 22050)
    """
    chunks = list(stream(path, sr=sr, min_duration_s=min_duration_s))
    rate = sr if sr is not None else audio_info(path, min_duration_s=0).sample_rate
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return y, rate


def read_span(info: AudioInfo, start_s: float, duration_s: float, *, sr: int) -> np.ndarray:
    """Read ``duration_s`` seconds from ``start_s`` of a checked file as mono float32 at ``sr`` Hz.

    Only the span is decoded, so memory follows ``duration_s`` whatever the
    file's length; a span past the end comes back shorter.

    Raises
    ------
    AudioLoadError
        If the span cannot be decoded or holds non-finite samples.
    """
    start = max(0, int(round(start_s * info.sample_rate)))
    frames = max(0, min(int(round(duration_s * info.sample_rate)), info.frames - start))
    try:
        block = sf.read(str(info.path), start=start, frames=frames, dtype="float32", always_2d=True)[0] if frames else np.zeros((0, 1), np.float32)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioLoadError(f"{info.path}: decoding failed at {start_s:.2f} s ({_short(exc)}); re-export the file.") from None
    mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
    if not np.isfinite(mono).all():
        raise AudioLoadError(f"{info.path}: contains NaN or infinite samples after {start_s:.2f} s; re-export the file.")
    if sr != info.sample_rate and len(mono):
        mono = soxr.resample(mono, info.sample_rate, sr, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def find_audio_files(paths) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of audio files.

    Files named explicitly are kept whatever their extension, so a bad one gets
    a clear error later; inside folders only supported extensions are taken
    (broken links and link loops among them too, so they are reported).
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(q for q in _walk(p) if q.suffix.lower() in SUPPORTED_EXTENSIONS and (q.is_file() or _dangling(q))))
        else:
            found.append(p)
    return found


def _walk(folder: Path):
    """Every file under ``folder``, following links to folders (a collection is often a folder of links to others),
    each real folder visited once, so a link loop ends."""
    seen: set[tuple[int, int]] = set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(top)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        for name in files:
            yield Path(top) / name


def _dangling(path: Path) -> bool:
    """A symbolic link that leads nowhere (broken, or a loop): kept so that it is reported, not silently dropped."""
    return path.is_symlink() and not path.exists()


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
