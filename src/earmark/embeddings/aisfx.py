"""``aisfx``: the sound-effects CNN of Ma & Lerch (ISMIR 2022), 512-d embeddings.

Front end as in the ``aisfx`` package's librosa path: peak-normalised audio at
44.1 kHz, 2048-sample Hann frames every 1024 samples (centred, zero padded),
96 HTK mel bands with unit-sum filters, ``log10(1e4 * power + 1)``, scaled by
the paper's 0..9.4578 range; blocks of 100 frames (about 2.3 s) every 50
frames, the last partial block dropped unless it is the only one (then
zero-padded). Weights: CC BY 4.0, (c) 2022 A.B. Ma and A. Lerch.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

import numpy as np

from earmark.audio.windows import Framer, rms_db
from earmark.embeddings.base import Embedder, Embedding
from earmark.errors import check_positive
from earmark.features.mel import mel_frames

log = logging.getLogger(__name__)

N_FFT, HOP, N_MELS, BLOCK = 2048, 1024, 96, 100
SPEC_MAX = 9.457798957824707  # the paper's normalisation range (min 0)


@functools.lru_cache(maxsize=1)
def _network():
    """The network, BN folded into the convolutions for inference (cached per process)."""
    import torch

    from earmark.embeddings.aisfx_net import load_aisfx_net

    net = load_aisfx_net()
    with torch.inference_mode():
        return torch.jit.optimize_for_inference(torch.jit.script(net))


class AisfxEmbedder(Embedder):
    """aiSFX X-Sequential-CE embeddings.

    Parameters
    ----------
    hop_blocks : float
        Hop between 100-frame blocks as a fraction of a block (0.5 in the paper).
    batch_size : int
        Blocks per forward pass.
    """

    name = "aisfx"
    version = "0.1.2-1"
    sample_rate = 44100
    dims = 512
    licence = "CC BY 4.0"
    measured_realtime = 68.7

    def __init__(self, *, hop_blocks: float = 0.5, batch_size: int = 32) -> None:
        self.hop_blocks = check_positive("hop_blocks", hop_blocks)
        self.batch_size = check_positive("batch_size", batch_size, kind=int)
        self._hop_frames = max(1, int(round(BLOCK * hop_blocks)))

    @property
    def window_s(self) -> float:
        return BLOCK * HOP / self.sample_rate

    @property
    def hop_s(self) -> float:
        return self._hop_frames * HOP / self.sample_rate

    def _hop_param(self, hop_s: float) -> tuple[str, object]:
        frames = max(1, round(hop_s * self.sample_rate / HOP))
        return "hop_blocks", frames / BLOCK

    def params(self) -> dict:
        return {"hop_blocks": self.hop_blocks, "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "block_frames": BLOCK}

    def spectrogram(self, chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
        """Normalised log-mel frames of a chunk stream.

        Returns
        -------
        spec : np.ndarray [shape=(n_frames, 96), dtype=float32]
        frame_db : np.ndarray [shape=(n_frames,)]
        n_samples : int
        """
        framer = Framer(N_FFT, HOP, pad_start=N_FFT // 2)
        mels, levels, peak = [], [], 0.0
        for chunk in chunks:
            if len(chunk):
                peak = max(peak, float(np.max(np.abs(chunk))))
            self._mel(framer.push(chunk), mels, levels)
        self._mel(framer.finish(N_FFT // 2), mels, levels)
        spec = np.concatenate(mels) if mels else np.zeros((0, N_MELS), np.float32)
        gain = 1.0 / peak**2 if peak > 0 else 1.0  # peak normalisation scales power by 1/peak^2
        spec = np.log10(spec * np.float32(gain * 1e4) + 1.0) / np.float32(SPEC_MAX)
        return spec.astype(np.float32, copy=False), np.concatenate(levels) if levels else np.zeros(0, np.float32), framer.n_samples

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        spec, frame_db, n_samples = self.spectrogram(chunks)
        starts = self._block_starts(len(spec))
        if len(spec) < starts[-1] + BLOCK:
            spec = np.pad(spec, ((0, starts[-1] + BLOCK - len(spec)), (0, 0)))
            frame_db = np.pad(frame_db, (0, max(0, len(spec) - len(frame_db))), constant_values=-120.0)
        vectors = self._forward(spec, starts)
        power = 10.0 ** (frame_db.astype(np.float64) / 10.0)
        level = np.array([10.0 * np.log10(max(power[s : s + BLOCK].mean(), 1e-12)) for s in starts], np.float32)
        times = (starts + BLOCK / 2) * HOP / self.sample_rate
        return Embedding(vectors, times, level, n_samples / self.sample_rate)

    def _block_starts(self, n_frames: int) -> np.ndarray:
        n_blocks = max(1, 1 + (n_frames - BLOCK) // self._hop_frames) if n_frames >= BLOCK else 1
        return np.arange(n_blocks) * self._hop_frames

    def _forward(self, spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
        import torch

        net = _network()
        blocks = np.lib.stride_tricks.sliding_window_view(spec, (BLOCK, N_MELS))[:, 0]
        out = []
        with torch.inference_mode():
            for i in range(0, len(starts), self.batch_size):
                batch = np.ascontiguousarray(blocks[starts[i : i + self.batch_size]])
                out.append(net(torch.from_numpy(batch)).numpy())
        return np.concatenate(out).astype(np.float32, copy=False)

    @staticmethod
    def _mel(frames: np.ndarray, mels: list, levels: list) -> None:
        if len(frames):
            mels.append(mel_frames(frames, sr=AisfxEmbedder.sample_rate, n_mels=N_MELS, fmin=0.0, fmax=22050.0, htk=True, norm=1.0))
            levels.append(rms_db(frames))
