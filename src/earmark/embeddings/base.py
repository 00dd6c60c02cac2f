"""The embedder contract every pretrained model or feature extractor follows.

An embedder (a *front end*) turns mono audio at its own ``sample_rate``
into one feature array per analysis window (``window_s`` long, every
``hop_s`` seconds). It can take a whole signal (:meth:`Embedder.embed`) or a
stream of chunks (:meth:`Embedder.embed_stream`); both give identical
results, because the first is the second with one chunk.

The framing every embedder needs lives here, once: :meth:`Embedder._embed_windows`
cuts a chunk stream into sample windows (padding a short clip to one
window, measuring each window's level, timing its centre) and hands them to
the subclass in batches; :meth:`Embedder._stft_frames`,
:func:`block_starts` and :func:`block_levels` do the same for models that
take blocks of spectrogram frames. Every embedder's constructor takes
``hop_s`` in seconds (snapped to the model's own grid), so
:meth:`Embedder.with_hop` is the same for all.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from earmark.errors import ParameterError


def block_starts(n_frames: int, block: int, hop: int) -> np.ndarray:
    """First frame of every ``block``-frame window every ``hop`` frames; at least one (a short input is padded to it)."""
    n_blocks = 1 + (n_frames - block) // hop if n_frames >= block else 1
    return np.arange(n_blocks) * hop


def block_levels(frame_power: np.ndarray, starts: np.ndarray, block: int) -> np.ndarray:
    """Mean power of each block of frames in dBFS (float32); frames past the end count as silence."""
    power = np.pad(np.asarray(frame_power, np.float64), (0, max(0, int(starts[-1]) + block - len(frame_power))))
    mean = np.array([power[s : s + block].mean() for s in starts])
    return (10.0 * np.log10(np.maximum(mean, 1e-12))).astype(np.float32)


@dataclass(frozen=True)
class Embedding:
    """Window embeddings of one signal.

    Attributes
    ----------
    vectors : np.ndarray [shape=(n_windows,) + feature_shape, dtype=float32]
        ``feature_shape`` is ``(dims,)`` for the embedders here.
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
    # a long file may be embedded in stretches (earmark.embeddings.spans): windows depend only on audio within a
    # few windows of them, and on the file's peak if peak_normalised (given to each stretch by with_peak)
    splittable: bool = True
    peak_normalised: bool = False
    # live windows come from a state carried over the whole stream (live() overridden), so every window a live
    # detector scores holds a full window_s of the stream's audio, never a clip-length ring: keyword models on it
    # are scored, and trained stream-style, on whole windows
    live_window: bool = False

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """Shape of one window's features: ``(dims,)`` for embedders, e.g. ``(n_mels, n_frames)`` for patches."""
        return (self.dims,)

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
        from earmark.features.mel import MAX_HOP_S

        check_positive("hop_s", hop_s, high=MAX_HOP_S)
        return type(self)(**{**self._init_kwargs(), "hop_s": float(hop_s)})

    def live(self, *, hop_s: float, ring_s: float | None = None) -> LiveWindows:
        """The windows a live detector scores on a stream, pushed in pieces: every ``hop_s``, the newest ``ring_s``
        seconds (this front end's window by default), embedded whole. A front end with an incremental state
        overrides this (see :attr:`live_window`)."""
        return LiveWindows(self, hop_s=hop_s, ring_s=ring_s)

    def with_peak(self, peak: float) -> Embedder:
        """This front end with the file's peak given instead of measured (one stretch of a long file); as is if
        it does not normalise by the peak."""
        return self

    backends: tuple[str, ...] = ()  # the runtimes its network can run on (``--backend``); none for most

    def check_backend(self, backend: str | None, *, what: str = "model") -> str | None:
        """``backend`` if this front end can run on it, else :class:`ParameterError` naming what (a ``model``, a
        ``store``, ``training``) runs on this front end."""
        if backend is None:
            return None
        if not self.backends:
            raise ParameterError(f"--backend applies to a front end whose network runs on a choice of runtimes (aisfx); this "
                                 f"{what} runs on {self.name}, which has none to swap (leave --backend out).")
        from earmark.errors import check_choice

        return check_choice("backend", backend, self.backends)

    def with_backend(self, backend: str | None, calibration=None, *, what: str = "model") -> Embedder:
        """This front end with its network run by ``backend`` (int8: calibrated on ``calibration``); as is for
        ``None``. A front end without a choice of runtimes refuses any other value (:meth:`check_backend`)."""
        self.check_backend(backend, what=what)
        return self

    # --- shared framing -------------------------------------------------------------
    def _embed_windows(self, chunks: Iterable[np.ndarray], *, length: int, hop: int, batch_size: int, embed) -> Embedding:
        """Cut a chunk stream into windows of ``length`` samples every ``hop`` and embed them in batches.

        ``embed(windows)`` maps ``(n, length)`` float32 windows to ``(n, *feature_shape)``.
        A clip shorter than one window is zero-padded to one window; each
        window's level (dBFS) is measured on the samples as they arrived.
        Memory stays bounded by ``batch_size`` windows whatever the stream's length.
        """
        from earmark.audio.windows import Framer, rms_db

        framer = Framer(length, hop)
        vectors, levels, pending = [], [], []

        def flush(final: bool) -> None:
            while pending and (final or sum(map(len, pending)) >= batch_size):
                batch = np.concatenate(pending)
                take, rest = batch[:batch_size], batch[batch_size:]
                pending[:] = [rest] if len(rest) else []
                if len(take):
                    vectors.append(embed(take))
                    levels.append(rms_db(take))

        for chunk in chunks:
            pending.append(framer.push(chunk))
            flush(False)
        if framer.n_samples < length:
            pending.append(framer.finish(length - framer.n_samples))
        flush(True)
        out = np.concatenate(vectors).astype(np.float32, copy=False) if vectors else np.zeros((0, self.dims), np.float32)
        times = np.arange(len(out)) * hop / self.sample_rate + length / (2 * self.sample_rate)
        return Embedding(out, times, np.concatenate(levels) if levels else np.zeros(0, np.float32), framer.n_samples / self.sample_rate)

    def _stft_frames(self, chunks: Iterable[np.ndarray], *, n_fft: int, hop: int, on_frames, on_chunk=None) -> int:
        """Feed centred STFT frames (``n_fft // 2`` zeros at both ends, as librosa) of a chunk stream to ``on_frames``.

        ``on_chunk(chunk)`` sees every raw chunk first (for a peak, say).
        Returns the number of samples in the stream.
        """
        from earmark.audio.windows import Framer

        framer = Framer(n_fft, hop, pad_start=n_fft // 2)
        for chunk in chunks:
            if on_chunk is not None:
                on_chunk(chunk)
            frames = framer.push(chunk)
            if len(frames):
                on_frames(frames)
        frames = framer.finish(n_fft // 2)
        if len(frames):
            on_frames(frames)
        return framer.n_samples

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


class SecondsWindows(Embedder):
    """An embedder whose windows are set in seconds (``window_s``, ``hop_s`` constructor arguments)."""

    def __init__(self, *, window_s: float, hop_s: float) -> None:
        from earmark.errors import check_positive
        from earmark.features.mel import MAX_HOP_S

        self._window_s = check_positive("window_s", window_s, high=MAX_HOP_S)
        self._hop_s = check_positive("hop_s", hop_s, high=MAX_HOP_S)

    @property
    def window_s(self) -> float:
        return self._window_s

    @property
    def hop_s(self) -> float:
        return self._hop_s


class LiveWindows:
    """The windows of a stream as a live detector meets them: :meth:`push` the samples (at the front end's rate) as
    they arrive; every ``hop`` samples, once ``length`` samples have arrived, one window ends.

    This one keeps a ring of the newest ``length`` samples and embeds it whole
    when asked, so a quiet ring costs nothing. Windows lie on a fixed grid
    (ends at ``length``, ``length + hop``, ...) whatever the pieces' sizes.

    Attributes
    ----------
    sr, length, hop : int
        Sample rate, samples under one window, samples between window ends.
    """

    def __init__(self, front: Embedder, *, hop_s: float, ring_s: float | None = None) -> None:
        self.front, self.sr = front, front.sample_rate
        self.length = int(round((ring_s or front.window_s) * self.sr))
        self.hop = max(1, int(round(hop_s * self.sr)))
        self._ring, self.total, self._next = np.zeros(self.length, np.float32), 0, self.length

    def push(self, samples: np.ndarray) -> list[tuple[int, float, Callable[[], Embedding]]]:
        """``(samples so far, the window's level in dBFS, embed)`` for every window that ends in ``samples``;
        ``embed()`` gives the window's :class:`Embedding` (call it before the next push)."""
        from earmark.audio.windows import rms_db

        out = []
        samples = np.asarray(samples, np.float32)
        while len(samples):
            take = min(len(samples), self._next - self.total)
            self._ring = np.concatenate([self._ring, samples[:take]])[-self.length :]
            self.total += take
            samples = samples[take:]
            if self.total == self._next:
                self._next += self.hop
                ring = self._ring
                out.append((self.total, float(rms_db(ring)), lambda ring=ring: self.front.embed(ring, sr=self.sr)))
        return out
