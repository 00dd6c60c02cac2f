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

from earmark.audio.windows import rms_db
from earmark.embeddings.base import Embedder, Embedding, block_levels, block_starts
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
    hop_s : float or None
        Hop between 100-frame blocks in seconds, snapped to whole frames
        (default: half a block, 1.16 s, as in the paper).
    batch_size : int
        Blocks per forward pass.
    """

    name = "aisfx"
    version = "0.1.2-1"
    sample_rate = 44100
    dims = 512
    licence = "CC BY 4.0"
    measured_realtime = 75.7

    def __init__(self, *, hop_s: float | None = None, batch_size: int = 32) -> None:
        if hop_s is not None:
            check_positive("hop_s", hop_s)
        self.batch_size = check_positive("batch_size", batch_size, kind=int)
        self._hop_frames = BLOCK // 2 if hop_s is None else max(1, round(hop_s * self.sample_rate / HOP))

    @property
    def window_s(self) -> float:
        return BLOCK * HOP / self.sample_rate

    @property
    def hop_s(self) -> float:
        return self._hop_frames * HOP / self.sample_rate

    def params(self) -> dict:
        return {"hop_blocks": self._hop_frames / BLOCK, "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "block_frames": BLOCK}

    def spectrogram(self, chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
        """Normalised log-mel frames of a chunk stream.

        Returns
        -------
        spec : np.ndarray [shape=(n_frames, 96), dtype=float32]
        frame_power : np.ndarray [shape=(n_frames,)]
            Mean-square level of each frame (before peak normalisation).
        n_samples : int
        """
        mels, powers, peak = [], [], [0.0]

        def on_chunk(chunk: np.ndarray) -> None:
            if len(chunk):
                peak[0] = max(peak[0], float(np.max(np.abs(chunk))))

        def on_frames(frames: np.ndarray) -> None:
            mels.append(mel_frames(frames, sr=self.sample_rate, n_mels=N_MELS, fmin=0.0, fmax=22050.0, htk=True, norm=1.0))
            powers.append(10.0 ** (rms_db(frames).astype(np.float64) / 10.0))

        n_samples = self._stft_frames(chunks, n_fft=N_FFT, hop=HOP, on_frames=on_frames, on_chunk=on_chunk)
        spec = np.concatenate(mels) if mels else np.zeros((0, N_MELS), np.float32)
        gain = 1.0 / peak[0] ** 2 if peak[0] > 0 else 1.0  # peak normalisation scales power by 1/peak^2
        spec = np.log10(spec * np.float32(gain * 1e4) + 1.0) / np.float32(SPEC_MAX)
        return spec.astype(np.float32, copy=False), np.concatenate(powers) if powers else np.zeros(0), n_samples

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        spec, power, n_samples = self.spectrogram(chunks)
        starts = block_starts(len(spec), BLOCK, self._hop_frames)
        if len(spec) < starts[-1] + BLOCK:
            spec = np.pad(spec, ((0, starts[-1] + BLOCK - len(spec)), (0, 0)))
        times = (starts + BLOCK / 2) * HOP / self.sample_rate
        return Embedding(self._forward(spec, starts), times, block_levels(power, starts, BLOCK), n_samples / self.sample_rate)

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


class AisfxBlocks(AisfxEmbedder):
    """``aisfx-mel``: the aiSFX network's input, its normalised log-mel blocks ``(100 frames, 96 bands)`` per window.

    The front end of ``finetune:aisfx``: the same blocks, times and levels
    as ``aisfx``, before the network, so the network can be trained here.
    """

    name = "aisfx-mel"
    version = "0.1.2-1"
    dims = BLOCK * N_MELS
    licence = "none (features only; the fine-tuned weights are CC BY 4.0)"
    measured_realtime = None

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return (BLOCK, N_MELS)

    def _forward(self, spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
        blocks = np.lib.stride_tricks.sliding_window_view(spec, (BLOCK, N_MELS))[:, 0]
        return np.ascontiguousarray(blocks[starts], dtype=np.float32)
