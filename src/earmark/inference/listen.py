"""Live classification of a stream: a microphone, a file played at real-time pace, or stdin.

Samples arrive in blocks; every ``hop_s`` the newest ``window_s`` of audio
is classified, unless its level is below the gate (silence is never
classified). Each result carries the stream time of the window's end and
the latency from the moment that last sample arrived to the result.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from earmark.errors import AudioLoadError, EarmarkError
from earmark.pipeline import UNKNOWN


def file_blocks(path: str | Path, *, sr: int, block_s: float, realtime: bool) -> Iterator[tuple[np.ndarray, float]]:
    """Blocks of a file at ``sr``, each with its arrival time; paced like a live source when ``realtime``."""
    from earmark.audio import stream

    block = max(1, int(block_s * sr))
    start, n, buf = time.perf_counter(), 0, np.zeros(0, np.float32)
    for chunk in stream(path, sr=sr):
        buf = np.concatenate([buf, chunk])
        while len(buf) >= block:
            n += block
            if realtime:
                time.sleep(max(0.0, start + n / sr - time.perf_counter()))
            yield buf[:block], time.perf_counter()
            buf = buf[block:]
    if len(buf):
        yield buf, time.perf_counter()


def stdin_blocks(*, rate: int, sr: int, block_s: float) -> Iterator[tuple[np.ndarray, float]]:
    """Raw signed 16-bit little-endian mono PCM at ``rate`` Hz from stdin (e.g. ``arecord -f S16_LE -r 16000``)."""
    nbytes = 2 * max(1, int(block_s * rate))
    stream = sys.stdin.buffer
    return pcm_blocks(lambda: stream.read(nbytes), rate=rate, sr=sr)


def pcm_blocks(read, *, rate: int, sr: int) -> Iterator[tuple[np.ndarray, float]]:
    """Blocks from ``read()``, which returns raw signed 16-bit little-endian mono PCM at ``rate`` Hz (empty or None: the
    end), resampled to ``sr``: stdin, or a web page's microphone over a WebSocket."""
    import soxr

    resampler = soxr.ResampleStream(rate, sr, 1, dtype="float32") if rate != sr else None
    carry = b""
    while True:
        raw = read()
        if not raw:
            return
        raw, carry = carry + raw, b""
        if len(raw) % 2:  # an odd byte waits for its other half
            raw, carry = raw[:-1], raw[-1:]
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        arrived = time.perf_counter()
        yield (resampler.resample_chunk(x) if resampler else x), arrived


def microphone_blocks(*, device, sr: int, block_s: float) -> Iterator[tuple[np.ndarray, float]]:
    """Blocks from a sound card through sounddevice (PortAudio)."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise EarmarkError(f"live input needs sounddevice and PortAudio ({exc}); pip install sounddevice, "
                           "or use --input FILE or --input - with a pipe") from None
    import queue

    q: queue.Queue = queue.Queue()
    try:
        with sd.InputStream(samplerate=sr, channels=1, dtype="float32", device=device, blocksize=int(block_s * sr),
                            callback=lambda data, frames, t, status: q.put((data[:, 0].copy(), time.perf_counter()))):
            while True:
                try:
                    yield q.get(timeout=5.0)
                except queue.Empty:
                    raise AudioLoadError(f"the input device {device!r} delivered no audio for 5 s; check it is connected.") from None
    except sd.PortAudioError as exc:
        raise AudioLoadError(f"the input device {device!r} failed ({exc}); list devices with: python -m sounddevice") from None


def scored_windows(model, blocks: Iterator[tuple[np.ndarray, float]], *, hop_s: float = 0.5, gate_db: float = -50.0,
                   gate: str = "energy", vad_threshold: float = 0.5, ring_s: float | None = None,
                   unknown: bool = False) -> Iterator[tuple]:
    """Score the newest ``ring_s`` seconds (the front end's window by default) every ``hop_s`` seconds; yield
    ``(end_s, proba, level_db, arrived)`` for every hop.

    The windows are the front end's live ones (:meth:`earmark.embeddings.base.Embedder.live`:
    the newest ring embedded whole, or an incremental state's window).
    ``proba`` (over ``model.classes``) is None for a window that is not
    classified: quieter than ``gate_db`` (the one gating path,
    :meth:`earmark.pipeline.Model.window_scores`), without voice when
    ``gate="vad"`` (Silero VAD below ``vad_threshold`` in every frame), or of
    none of the classes (a model that rejects). With ``unknown=True`` the
    last is told apart: ``proba`` is then an :class:`Unknown` holding the
    closest class's probability before the rejection. ``arrived`` is when the
    window's last sample arrived. Windows lie on a fixed grid whatever the
    block size, so a file and a live source give the same windows.
    """
    front = model.front_end
    vad = _VadTrack(front.sample_rate, front.window_s) if gate == "vad" else None
    live = front.live(hop_s=hop_s, ring_s=ring_s)
    sr = live.sr
    front.embed(np.zeros(live.length, np.float32), sr=sr)  # load and optimise the network before the first sound, not during it
    for block, arrived in blocks:
        for i in range(0, len(block), live.hop):  # the VAD hears each hop before the windows that end in it
            piece = block[i : i + live.hop]
            if vad is not None:
                vad.push(piece)
            yield from _scored(model, live.push(piece), arrived, gate_db=gate_db, vad=vad, vad_threshold=vad_threshold, unknown=unknown)


def _scored(model, windows, arrived: float, *, gate_db: float, vad, vad_threshold: float, unknown: bool) -> Iterator[tuple]:
    sr = model.front_end.sample_rate
    for total, level, embed in windows:
        if level < gate_db or (vad is not None and vad.recent_max() < vad_threshold):
            yield total / sr, None, level, arrived  # cheap pre-check: no network call for a quiet ring
            continue
        emb = embed()
        ws = model.window_scores(emb, gate_db=gate_db)
        heard = ~ws.gated & ~ws.unknown
        proba = ws.scores[heard].mean(axis=0) if heard.any() else None
        if proba is None and unknown and (~ws.gated).any():  # classified, and none of the classes
            closest = model.estimator.window_proba(emb.vectors[~ws.gated]).mean(axis=0)
            proba = Unknown(int(np.argmax(closest)), float(np.max(closest)))
        yield total / sr, proba, float(ws.level_db.max()), arrived


@dataclass(frozen=True)
class Unknown:
    """A window of none of a rejecting model's classes: the closest class (its column) and its probability."""

    closest: int
    score: float


def listen(model, blocks: Iterator[tuple[np.ndarray, float]], *, hop_s: float = 0.5, gate_db: float = -50.0,
           threshold: float = 0.5, gate: str = "energy", vad_threshold: float = 0.5) -> Iterator[tuple]:
    """Classify the newest window every ``hop_s`` seconds; yield ``(end_s, label, score, level_db, latency_s, closest)``
    for the windows whose top score reaches ``threshold`` (see :func:`scored_windows`), and, for a model that
    rejects, every window of none of its classes as label ``unknown`` (``closest``: the class it was nearest, and
    ``score`` that class's probability; ``None`` for a known window).

    Options are validated by :func:`earmark.api.listen`.
    """
    classes = list(model.classes)
    for end_s, proba, level, arrived in scored_windows(model, blocks, hop_s=hop_s, gate_db=gate_db, gate=gate, vad_threshold=vad_threshold,
                                                       unknown=True):
        if isinstance(proba, Unknown):  # always said: for a monitor, the sound nobody taught it is the news
            yield end_s, UNKNOWN, proba.score, level, time.perf_counter() - arrived, classes[proba.closest]
        elif proba is not None and proba.max() >= threshold:
            k = int(np.argmax(proba))
            yield end_s, classes[k], float(proba[k]), level, time.perf_counter() - arrived, None


class _VadTrack:
    """Silero VAD probabilities over the last window of a stream at ``sr`` Hz."""

    def __init__(self, sr: int, window_s: float) -> None:
        import soxr

        from earmark.inference.vad import FRAME, SR, SileroVad

        self._vad = SileroVad()
        self._resampler = soxr.ResampleStream(sr, SR, 1, dtype="float32") if sr != SR else None
        self._probs = np.zeros(max(1, int(window_s * SR / FRAME)), np.float32)

    def push(self, piece: np.ndarray) -> None:
        x = self._resampler.resample_chunk(piece) if self._resampler else piece
        new = self._vad.push(x)
        if len(new):
            self._probs = np.concatenate([self._probs, new])[-len(self._probs):]

    def recent_max(self) -> float:
        return float(self._probs.max())
