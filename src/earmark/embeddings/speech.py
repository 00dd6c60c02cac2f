"""``speech``: Google's speech_embedding model (96-d every 80 ms), as shipped in openwakeword 0.4.0.

Two ONNX models from ``openwakeword==0.4.0`` (Apache-2.0; later versions
download them at run time, this one ships them): ``melspectrogram.onnx``
(16 kHz, 512-sample frames every 160 samples, 32 bands, then ``x / 10 + 2``)
and ``embedding_model.onnx`` (76 mel frames, about 0.78 s, to 96-d), slid
every 8 frames. The wake-word models in the same package have another
licence and are never used.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

from earmark.embeddings.base import Embedder, Embedding
from earmark.embeddings.packaged import packaged_file, require_module
from earmark.errors import check_positive
from earmark.audio.windows import rms_db

INSTALL = "pip install onnxruntime && pip install --no-deps openwakeword==0.4.0"
SR, N_FFT, HOP, N_MELS, CONTEXT = 16000, 512, 160, 32, 76
MIN_SAMPLES = N_FFT + (CONTEXT - 1) * HOP  # one embedding window


@functools.lru_cache(maxsize=1)
def _sessions():
    ort = require_module("onnxruntime", install=INSTALL)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    models = "resources/models/"
    mel = ort.InferenceSession(str(packaged_file("openwakeword", models + "melspectrogram.onnx", install=INSTALL)), opts, providers=["CPUExecutionProvider"])
    emb = ort.InferenceSession(str(packaged_file("openwakeword", models + "embedding_model.onnx", install=INSTALL)), opts, providers=["CPUExecutionProvider"])
    return mel, emb


class SpeechEmbedder(Embedder):
    """speech_embedding vectors of 76-frame (0.78 s) windows.

    Parameters
    ----------
    step_frames : int
        Hop between windows in 10 ms mel frames (8 = 80 ms, as openwakeword).
    batch_size : int
        Windows per embedding-model call.
    """

    name = "speech"
    version = "0.4.0-1"
    sample_rate = SR
    dims = 96
    licence = "Apache-2.0"

    def __init__(self, *, step_frames: int = 8, batch_size: int = 256) -> None:
        self.step_frames = check_positive("step_frames", step_frames, kind=int)
        self.batch_size = check_positive("batch_size", batch_size, kind=int)

    @property
    def window_s(self) -> float:
        return MIN_SAMPLES / SR

    @property
    def hop_s(self) -> float:
        return self.step_frames * HOP / SR

    def params(self) -> dict:
        return {"step_frames": self.step_frames}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        mel_model, _ = _sessions()
        buf, mels, n_samples = np.zeros(0, np.float32), [], 0
        for chunk in chunks:
            n_samples += len(chunk)
            buf = np.concatenate([buf, chunk])
            buf = self._mel(mel_model, buf, mels)
        if n_samples < MIN_SAMPLES:  # short clip: zero-pad to one window
            buf = self._mel(mel_model, np.concatenate([buf, np.zeros(MIN_SAMPLES - n_samples, np.float32)]), mels)
        spec, frame_db = (np.concatenate([m for m, _ in mels]), np.concatenate([d for _, d in mels])) if mels else (np.zeros((0, N_MELS), np.float32), np.zeros(0, np.float32))
        starts = np.arange(0, len(spec) - CONTEXT + 1, self.step_frames)
        vectors = self._embed(spec, starts)
        power = 10.0 ** (frame_db.astype(np.float64) / 10.0)
        level = np.array([10 * np.log10(max(power[s : s + CONTEXT].mean(), 1e-12)) for s in starts], np.float32)
        times = (starts * HOP + MIN_SAMPLES / 2) / SR
        return Embedding(vectors, times, level, n_samples / SR)

    @staticmethod
    def _mel(model, buf: np.ndarray, out: list) -> np.ndarray:
        """Mel frames of every complete 512-sample frame in ``buf``; returns the unused tail."""
        if len(buf) < N_FFT:
            return buf
        n = 1 + (len(buf) - N_FFT) // HOP
        used = buf[: (n - 1) * HOP + N_FFT]
        spec = model.run(None, {"input": (used * 32767.0)[None]})[0].reshape(-1, N_MELS) / 10.0 + 2.0
        frames = np.lib.stride_tricks.sliding_window_view(used, N_FFT)[::HOP][:n]
        out.append((spec.astype(np.float32), rms_db(frames)))
        return buf[n * HOP :]

    def _embed(self, spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
        _, model = _sessions()
        windows = np.lib.stride_tricks.sliding_window_view(spec, (CONTEXT, N_MELS))[:, 0]
        out = [
            model.run(None, {"input_1": np.ascontiguousarray(windows[starts[i : i + self.batch_size]])[..., None]})[0].reshape(-1, self.dims)
            for i in range(0, len(starts), self.batch_size)
        ]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dims), np.float32)
