"""The embedder contract every pretrained model or feature extractor follows.

An embedder turns mono audio at its own ``sample_rate`` into one vector per
analysis window (``window_s`` long, every ``hop_s``). It can take a whole
signal (:meth:`Embedder.embed`) or a stream of chunks
(:meth:`Embedder.embed_stream`); both give identical results, because the
first is the second with one chunk.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from earmark.errors import ParameterError


@dataclass(frozen=True)
class Embedding:
    """Window embeddings of one signal.

    Attributes
    ----------
    vectors : np.ndarray [shape=(n_windows, dims), dtype=float32]
    times_s : np.ndarray [shape=(n_windows,), dtype=float64]
        Centre of each window in seconds from the start of the signal.
    level_db : np.ndarray [shape=(n_windows,), dtype=float32]
        RMS level of each window in dBFS, for low-energy gating.
    duration_s : float
        Length of the signal in seconds.
    """

    vectors: np.ndarray
    times_s: np.ndarray
    level_db: np.ndarray
    duration_s: float

    def gated(self, gate_db: float | None) -> np.ndarray:
        """Vectors of the windows at or above ``gate_db`` (the loudest one if none is)."""
        if gate_db is None:
            return self.vectors
        keep = self.level_db >= gate_db
        if not keep.any():
            keep = self.level_db == self.level_db.max()
        return self.vectors[keep]


class Embedder(ABC):
    """Base class: subclasses set the class attributes and implement :meth:`embed_stream`."""

    name: str = ""
    version: str = "1"
    sample_rate: int = 0
    dims: int = 0
    licence: str = ""
    commercial_use: bool = True

    @property
    @abstractmethod
    def window_s(self) -> float:
        """Length of one analysis window in seconds."""

    @property
    @abstractmethod
    def hop_s(self) -> float:
        """Hop between analysis windows in seconds."""

    @abstractmethod
    def params(self) -> dict:
        """Every parameter that changes the output, JSON-serialisable."""

    @abstractmethod
    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        """Embed a signal given as consecutive mono float32 chunks at ``sample_rate``."""

    def embed(self, y: np.ndarray, *, sr: int) -> Embedding:
        """Embed a whole mono signal, resampling it to ``sample_rate`` first if needed.

        Parameters
        ----------
        y : np.ndarray [shape=(n_samples,)]
        sr : int
            Sample rate of ``y`` in Hz.
        """
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ParameterError(f"Audio must be mono with shape (n_samples,). Got shape {y.shape} instead; mix it down first.")
        if not np.isfinite(y).all():
            raise ParameterError("Audio contains NaN or infinite samples; clean the signal first.")
        if sr != self.sample_rate:
            y = soxr.resample(y, sr, self.sample_rate, quality="HQ").astype(np.float32, copy=False)
        return self.embed_stream([y])

    def embed_batch(self, signals: Iterable[np.ndarray], *, sr: int) -> list[Embedding]:
        """Embed several signals; each result equals :meth:`embed` of that signal alone."""
        return [self.embed(y, sr=sr) for y in signals]

    def embed_file(self, path: str | Path) -> Embedding:
        """Embed an audio file, streamed in blocks (constant memory for long files)."""
        from earmark.audio import stream

        return self.embed_stream(stream(path, sr=self.sample_rate))

    def identity(self) -> dict:
        """Name, version and parameters: everything that determines the output."""
        return {"name": self.name, "version": self.version, "params": self.params()}

    def fingerprint(self) -> str:
        """A short hash of :meth:`identity`, used in cache keys."""
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def describe(self) -> dict:
        """A row for ``earmark embedders``."""
        return {
            "name": self.name,
            "dims": self.dims,
            "sample_rate": self.sample_rate,
            "window_s": round(self.window_s, 3),
            "hop_s": round(self.hop_s, 3),
            "licence": self.licence,
            "commercial_use": self.commercial_use,
        }


class Framer:
    """Cut a stream of chunks into frames of ``length`` samples every ``hop`` samples.

    Chunk boundaries do not change the frames: a frame straddling two chunks is
    assembled from both. ``pad_start`` zeros are prepended to the stream.
    """

    def __init__(self, length: int, hop: int, *, pad_start: int = 0) -> None:
        self.length, self.hop = length, hop
        self._buf = np.zeros(pad_start, np.float32)
        self.n_samples = 0

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Add samples; return the frames now complete, shape ``(n, length)``."""
        self.n_samples += len(chunk)
        return self._take(np.concatenate([self._buf, np.asarray(chunk, np.float32)]))

    def finish(self, pad_end: int = 0) -> np.ndarray:
        """Append ``pad_end`` zeros and return the last complete frames."""
        return self._take(np.concatenate([self._buf, np.zeros(pad_end, np.float32)]))

    def _take(self, buf: np.ndarray) -> np.ndarray:
        n = 0 if len(buf) < self.length else 1 + (len(buf) - self.length) // self.hop
        frames = np.lib.stride_tricks.sliding_window_view(buf, self.length)[: n * self.hop : self.hop].copy() if n else np.zeros((0, self.length), np.float32)
        self._buf = buf[n * self.hop :]
        return frames


def power_db(frames: np.ndarray) -> np.ndarray:
    """Mean power of each frame in dBFS (floor -120 dB), float32."""
    power = np.mean(np.square(frames, dtype=np.float64), axis=-1) if frames.size else np.zeros(len(frames))
    return (10.0 * np.log10(np.maximum(power, 1e-12))).astype(np.float32)
