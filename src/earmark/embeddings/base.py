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
    # x realtime of a cold run in a new process on the 2-core reference machine
    # (benchmarks/bench_embed.py; recorded in benchmarks/RESULTS.md), or None if not measured
    measured_realtime: float | None = None

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

    def with_hop(self, hop_s: float) -> Embedder:
        """A copy of this embedder with windows every ``hop_s`` seconds (nearest the model's own grid).

        The windows themselves, and so the embeddings, are unchanged; only how
        densely they are taken. Used by detection to sharpen event edges.
        """
        from earmark.errors import check_positive

        check_positive("hop_s", hop_s)
        name, value = self._hop_param(hop_s)
        return type(self)(**{**self._init_kwargs(), name: value})

    def _hop_param(self, hop_s: float) -> tuple[str, object]:
        raise ParameterError(f"Embedder {self.name!r} cannot change its hop; leave --hop-s out.")

    def _init_kwargs(self) -> dict:
        import inspect

        accepted = inspect.signature(type(self).__init__).parameters
        return {k: v for k, v in self.params().items() if k in accepted}

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
