"""``speech``: Google's speech_embedding model, as shipped in openwakeword 0.4.0.

Two ONNX models from ``openwakeword==0.4.0`` (Apache-2.0; later versions
download them at run time, this one ships them): ``melspectrogram.onnx``
(16 kHz, 512-sample frames every 160 samples, 32 bands, then ``x / 10 + 2``)
and ``embedding_model.onnx`` (76 mel frames, about 0.78 s, to 96-d), slid
every 8 frames (80 ms). As openwakeword's own keyword classifiers do, an
earmark window stacks ``context`` (16) consecutive 96-d embeddings, about
2 s of speech, into one 1,536-d vector, so word order is kept. The stream
starts with ``context - 1`` embeddings' worth of silence (1.2 s), so the
first window ends 0.78 s into the audio and a short word sits at the end
of its window, where this streaming model expects the newest sound: on
FSDD digits (official split) logistic regression scores 99.7% this way
(``benchmarks/bench_zoo.py``); a word at the start of its window, or the
mean of single embeddings, did markedly worse in development trials. The wake-word models in the same package have another
licence and are never used.

The mel model floors its output 80 dB below the loudest value of whatever
it is given (a ``ReduceMax`` in the graph), so its frames depend on how the
audio is cut. earmark therefore always feeds it fixed blocks of
``BLOCK_FRAMES`` frames at fixed positions in the signal (and a short clip,
zero-padded to one window, in one call, as openwakeword does): the result
does not depend on how the input arrives in chunks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

from earmark.audio.windows import rms_db
from earmark.embeddings.base import Embedder, Embedding
from earmark.embeddings.packaged import packaged_file, require_module
from earmark.errors import check_positive
from earmark.threads import process_cores

INSTALL = "pip install onnxruntime && pip install --no-deps openwakeword==0.4.0"
SR, N_FFT, HOP, N_MELS, CONTEXT = 16000, 512, 160, 32, 76
BASE_SAMPLES = N_FFT + (CONTEXT - 1) * HOP  # the audio under one 96-d embedding
BLOCK_FRAMES = 3000  # 30 s of mel frames per model call
BLOCK_SAMPLES = N_FFT + (BLOCK_FRAMES - 1) * HOP


@functools.lru_cache(maxsize=1)
def _sessions():
    ort = require_module("onnxruntime", install=INSTALL)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = min(2, process_cores())
    opts.inter_op_num_threads = 1
    # small models called every 80 ms live: idle threads must sleep, not spin (spinning tripled listen's CPU)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    models = "resources/models/"
    mel = ort.InferenceSession(str(packaged_file("openwakeword", models + "melspectrogram.onnx", install=INSTALL)), opts, providers=["CPUExecutionProvider"])
    emb = ort.InferenceSession(str(packaged_file("openwakeword", models + "embedding_model.onnx", install=INSTALL)), opts, providers=["CPUExecutionProvider"])
    return mel, emb


class SpeechEmbedder(Embedder):
    """Stacks of ``context`` consecutive speech_embedding vectors (16 x 96 = 1,536-d, about 2 s).

    Parameters
    ----------
    step_frames : int
        Hop between the 96-d embeddings in 10 ms mel frames (8 = 80 ms, as openwakeword).
    context : int
        Consecutive embeddings per earmark window.
    hop_s : float
        Hop between earmark windows in seconds, snapped to whole embeddings
        (0.64 s, 8 embeddings, by default).
    batch_size : int
        Embeddings per embedding-model call.
    """

    name = "speech"
    version = "0.4.0-4"
    # its ONNX mel model runs on 1,280-sample chunks with state carried across them, not on the window grid:
    # a 40-s file cut into 8-s stretches gave embeddings 1.2% off (earmark.embeddings.spans), so it runs whole files
    splittable = False
    sample_rate = SR
    licence = "Apache-2.0"
    measured_realtime = 45.6

    def __init__(self, *, step_frames: int = 8, context: int = 16, hop_s: float = 0.64, batch_size: int = 256) -> None:
        self.step_frames = check_positive("step_frames", step_frames, kind=int)
        self.context = check_positive("context", context, kind=int)
        check_positive("hop_s", hop_s)
        self.hop_embeddings = max(1, round(hop_s / (self.step_frames * HOP / SR)))
        self.batch_size = check_positive("batch_size", batch_size, kind=int)
        self.dims = 96 * self.context
        self._lead = (self.context - 1) * self.step_frames * HOP  # silence before the audio
        self._min_samples = BASE_SAMPLES + self._lead

    @property
    def window_s(self) -> float:
        return self._min_samples / SR

    @property
    def hop_s(self) -> float:
        return self.hop_embeddings * self.step_frames * HOP / SR

    def params(self) -> dict:
        return {"step_frames": self.step_frames, "context": self.context, "hop_embeddings": self.hop_embeddings}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        mel_model, _ = _sessions()
        buf, mels, n_samples = np.zeros(self._lead, np.float32), [], 0
        for chunk in chunks:
            n_samples += len(chunk)
            buf = np.concatenate([buf, chunk])
            while len(buf) >= BLOCK_SAMPLES:  # a full block: fixed position, whatever the chunking
                self._mel(mel_model, buf[:BLOCK_SAMPLES], mels)
                buf = buf[BLOCK_FRAMES * HOP :]
        if n_samples < BASE_SAMPLES:  # shorter than one embedding: zero-pad to one window
            buf = np.concatenate([buf, np.zeros(BASE_SAMPLES - n_samples, np.float32)])
        if len(buf) >= N_FFT:
            self._mel(mel_model, buf, mels)
        spec, frame_db = (np.concatenate([m for m, _ in mels]), np.concatenate([d for _, d in mels])) if mels else (np.zeros((0, N_MELS), np.float32), np.zeros(0, np.float32))
        starts = np.arange(0, len(spec) - CONTEXT + 1, self.step_frames)
        base = self._embed(spec, starts)  # one 96-d vector every step_frames
        power = 10.0 ** (frame_db.astype(np.float64) / 10.0)
        first = np.arange(0, len(base) - self.context + 1, self.hop_embeddings)
        vectors = np.lib.stride_tricks.sliding_window_view(base, (self.context, 96))[first, 0].reshape(len(first), self.dims)
        span = (self.context - 1) * self.step_frames + CONTEXT  # mel frames under one window
        level = np.array([10 * np.log10(max(power[starts[i] : starts[i] + span].mean(), 1e-12)) for i in first], np.float32)
        times = (starts[first] * HOP + self._min_samples / 2 - self._lead) / SR  # centres, in the audio's own time
        return Embedding(np.ascontiguousarray(vectors, dtype=np.float32), times, level, n_samples / SR)

    @staticmethod
    def _mel(model, block: np.ndarray, out: list) -> None:
        """Append the mel frames (and their levels) of every complete 512-sample frame of ``block``, in one model call."""
        n = 1 + (len(block) - N_FFT) // HOP
        used = block[: (n - 1) * HOP + N_FFT]
        spec = model.run(None, {"input": (used * 32767.0)[None]})[0].reshape(-1, N_MELS) / 10.0 + 2.0
        frames = np.lib.stride_tricks.sliding_window_view(used, N_FFT)[::HOP][:n]
        out.append((spec.astype(np.float32), rms_db(frames)))

    def _embed(self, spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
        _, model = _sessions()
        windows = np.lib.stride_tricks.sliding_window_view(spec, (CONTEXT, N_MELS))[:, 0]
        out = [
            model.run(None, {"input_1": np.ascontiguousarray(windows[starts[i : i + self.batch_size]])[..., None]})[0].reshape(-1, 96)
            for i in range(0, len(starts), self.batch_size)
        ]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 96), np.float32)


BLOCK = 8 * HOP  # 80 ms: one mel block, one 96-d embedding
CARRY = N_FFT - HOP  # samples of the block before that a block's first mel frame needs
EMB_BLOCKS = -(-CONTEXT // 8)  # blocks of mel frames under one 96-d embedding (76 frames: the last 4 of the first)


@functools.lru_cache(maxsize=1)
def _silence() -> tuple[np.ndarray, np.ndarray]:
    """The mel block of silence and the embedding of silence: the history a stream starts from."""
    mel_model, _ = _sessions()
    block = _block_mel(mel_model, np.zeros(BLOCK + CARRY, np.float32))
    return block, _embed_frames(np.tile(block, (EMB_BLOCKS, 1))[-CONTEXT:][None])[0]


def _block_mel(model, samples: np.ndarray) -> np.ndarray:
    """The 8 mel frames of one block, from its 1,632 samples, in one model call (the floor is the block's own)."""
    return (model.run(None, {"input": (samples * 32767.0)[None]})[0].reshape(-1, N_MELS) / 10.0 + 2.0).astype(np.float32)


def _embed_frames(windows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """96-d embeddings of ``(n, 76, 32)`` mel windows."""
    _, model = _sessions()
    out = [model.run(None, {"input_1": np.ascontiguousarray(windows[i : i + batch_size])[..., None]})[0].reshape(-1, 96)
           for i in range(0, len(windows), batch_size)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 96), np.float32)


class _Blocks:
    """speech_embedding over a stream, 80 ms at a time, as openwakeword runs it live.

    Each 1,280-sample block gets its 8 mel frames from one call on its own
    1,632 samples (the 352 before it included) and one 96-d embedding from the
    last 76 mel frames. Nothing depends on how the samples arrive in pieces,
    and a block's numbers depend only on the 26 blocks before it, so a window
    computed live equals the same window computed from a recording. The
    stream starts from silence (mel frames and embeddings of zeros).
    """

    def __init__(self) -> None:
        self.mel_model, _ = _sessions()
        zero_block, _ = _silence()
        self.frames = np.tile(zero_block, (EMB_BLOCKS, 1))  # the last EMB_BLOCKS blocks' mel frames
        self.samples = np.zeros(CARRY, np.float32)  # the carry, then samples not yet a block
        self.n_samples = 0

    def feed(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Push samples; the 96-d embeddings and mean powers of the blocks they complete."""
        self.n_samples += len(samples)
        self.samples = np.concatenate([self.samples, np.asarray(samples, np.float32)])
        n = (len(self.samples) - CARRY) // BLOCK
        if n == 0:
            return np.zeros((0, 96), np.float32), np.zeros(0)
        windows, power = [], []
        for b in range(n):
            block = self.samples[b * BLOCK : b * BLOCK + BLOCK + CARRY]
            self.frames = np.concatenate([self.frames[8:], _block_mel(self.mel_model, block)])
            windows.append(self.frames[-CONTEXT:])
            power.append(float(np.mean(block[CARRY:].astype(np.float64) ** 2)))
        self.samples = self.samples[n * BLOCK :]
        return _embed_frames(np.stack(windows)), np.array(power)


class SpeechStream(Embedder):
    """speech_embedding as a stream: each window stacks the last ``context`` 96-d embeddings (one per 80 ms) of the
    audio before it, computed incrementally live (about 1 ms per 80 ms).

    ``speech`` re-embeds a window's worth of audio for every window; this
    front end carries a state over the stream (:class:`_Blocks`), so live it
    costs one mel call and one embedding per 80 ms, and every window it scores
    holds ``window_s`` (2.08 s) of the stream's own audio, as openwakeword's
    classifiers see it. A recording is embedded the same way, from silence,
    with windows ending at its last whole 80-ms block and every ``hop_s``
    before it while they hold only its audio (at least the last one): a 1-s
    clip gives one window, the word at its end after silence; a keyword placed
    over 2.08 s of background (stream-like training) gives one window exactly
    as a live stream would present it.

    Parameters
    ----------
    context : int
        Consecutive 96-d embeddings per window (16, about 1.3 s of embeddings over 2.08 s of audio).
    hop_s : float
        Hop between a recording's windows in seconds, snapped to 80 ms (0.64 s by default).
    """

    name = "speech-stream"
    version = "0.4.0-1"
    splittable = False
    live_window = True
    sample_rate = SR
    licence = "Apache-2.0"

    def __init__(self, *, context: int = 16, hop_s: float = 0.64) -> None:
        self.context = check_positive("context", context, kind=int)
        check_positive("hop_s", hop_s)
        self.hop_blocks = max(1, round(hop_s * SR / BLOCK))
        self.dims = 96 * self.context
        self.blocks = self.context + EMB_BLOCKS  # 80-ms blocks of audio under one window

    @property
    def window_s(self) -> float:
        return self.blocks * BLOCK / SR

    @property
    def hop_s(self) -> float:
        return self.hop_blocks * BLOCK / SR

    def params(self) -> dict:
        return {"context": self.context, "hop_blocks": self.hop_blocks}

    def _history(self) -> np.ndarray:
        return np.tile(_silence()[1], (self.context - 1, 1))

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        state, embs, power = _Blocks(), [self._history()], [np.zeros(self.blocks - 1)]
        for chunk in chunks:
            e, p = state.feed(chunk)
            embs.append(e)
            power.append(p)
        n_samples = state.n_samples
        if n_samples < BLOCK:  # shorter than one block: zero-padded to one
            e, p = state.feed(np.zeros(BLOCK - n_samples, np.float32))
            embs.append(e)
            power.append(p)
        base, power = np.concatenate(embs), np.concatenate(power)
        last = len(base) - self.context + 1  # blocks in the recording: window k ends at block k (1-based)
        ends = np.arange(last, 0, -self.hop_blocks)
        ends = ends[(ends >= self.blocks) | (ends == last)][::-1]
        vectors = np.stack([base[e - 1 : e - 1 + self.context].reshape(-1) for e in ends])
        level = np.array([10 * np.log10(max(power[e - 1 : e - 1 + self.blocks].mean(), 1e-12)) for e in ends], np.float32)
        times = (ends * BLOCK - self.blocks * BLOCK / 2) / SR
        return Embedding(vectors, times, level, n_samples / SR)

    def live(self, *, hop_s: float, ring_s: float | None = None) -> _SpeechLive:
        """Live windows from the incremental state, every ``hop_s`` snapped to 80 ms; ``ring_s`` does not apply (a
        window always holds ``window_s`` of the stream)."""
        return _SpeechLive(self, hop_s)


class _SpeechLive:
    """:class:`~earmark.embeddings.base.LiveWindows` for :class:`SpeechStream`: the state advances with every block,
    quiet or not; a window is a stack of embeddings already computed."""

    def __init__(self, front: SpeechStream, hop_s: float) -> None:
        from collections import deque

        check_positive("hop_s", hop_s)
        self.front, self.sr, self.length = front, SR, front.blocks * BLOCK
        self.hop = max(1, round(hop_s * SR / BLOCK)) * BLOCK
        self._state = _Blocks()
        self._embs = deque(front._history(), maxlen=front.context)
        self._power = deque(np.zeros(front.blocks - 1), maxlen=front.blocks)
        self.total = 0

    def push(self, samples: np.ndarray) -> list:
        out = []
        embs, power = self._state.feed(samples)
        for e, p in zip(embs, power, strict=True):
            self._embs.append(e)
            self._power.append(p)
            self.total += BLOCK
            if self.total >= self.length and (self.total - self.length) % self.hop == 0:
                vector = np.concatenate(self._embs)[None]
                level = np.float32(10 * np.log10(max(float(np.mean(self._power)), 1e-12)))
                emb = Embedding(vector, np.array([(self.total - self.length / 2) / SR]), np.array([level], np.float32), self.front.window_s)
                out.append((self.total, float(level), lambda emb=emb: emb))
        return out
