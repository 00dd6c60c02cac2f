"""``speaker``: the Resemblyzer voice encoder (256-d speaker embeddings, 16 kHz).

Weights: ``pretrained.pt`` inside ``resemblyzer==0.1.4`` (Apache-2.0), read
with ``torch.load(weights_only=True)`` (plain tensors, no code runs); the
package itself is never imported. Network: 3-layer LSTM (40 -> 256) on
40-band mel power frames (25 ms every 10 ms), the last hidden state through
Linear + ReLU, L2-normalised. Windows are Resemblyzer's 160-frame (1.6 s)
partials. Resemblyzer normalises a whole utterance to -30 dBFS (raising
only) and trims silences with a VAD; earmark normalises each window the
same way (streaming-friendly) and leaves silence to its low-energy gate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

from earmark.audio.windows import rms_db
from earmark.embeddings.base import Embedder, Embedding, block_levels, block_starts
from earmark.embeddings.packaged import packaged_file
from earmark.errors import check_positive
from earmark.features.mel import mel_frames

INSTALL = "pip install --no-deps resemblyzer==0.1.4"
SR, N_FFT, HOP, N_MELS, PARTIAL = 16000, 400, 160, 40, 160
TARGET_DBFS = -30.0


@functools.lru_cache(maxsize=1)
def _network():
    import torch
    from torch import nn

    state = torch.load(packaged_file("resemblyzer", "pretrained.pt", install=INSTALL), map_location="cpu", weights_only=True)["model_state"]

    class VoiceEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    net = VoiceEncoder()
    net.load_state_dict({k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))})
    return net.eval()


class SpeakerEmbedder(Embedder):
    """Resemblyzer speaker embeddings of 1.6 s windows.

    Parameters
    ----------
    hop_s : float
        Hop between windows in seconds, snapped to 10 ms frames (0.8 s by default).
    """

    name = "speaker"
    version = "0.1.4-1"
    sample_rate = SR
    dims = 256
    licence = "Apache-2.0"
    measured_realtime = 171.0

    def __init__(self, *, hop_s: float = 0.8) -> None:
        check_positive("hop_s", hop_s)
        self.step_frames = max(1, round(hop_s * SR / HOP))

    @property
    def window_s(self) -> float:
        return PARTIAL * HOP / SR

    @property
    def hop_s(self) -> float:
        return self.step_frames * HOP / SR

    def params(self) -> dict:
        return {"step_frames": self.step_frames, "target_dbfs": TARGET_DBFS}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        mels, powers = [], []

        def on_frames(frames: np.ndarray) -> None:
            mels.append(mel_frames(frames, sr=SR, n_mels=N_MELS))
            powers.append(10 ** (rms_db(frames).astype(np.float64) / 10))

        n_samples = self._stft_frames(chunks, n_fft=N_FFT, hop=HOP, on_frames=on_frames)  # librosa's centred frames
        spec = np.concatenate(mels) if mels else np.zeros((0, N_MELS), np.float32)
        starts = block_starts(len(spec), PARTIAL, self.step_frames)
        if len(spec) < PARTIAL:  # short clip: zero-pad to one window
            spec = np.pad(spec, ((0, PARTIAL - len(spec)), (0, 0)))
        level = block_levels(np.concatenate(powers) if powers else np.zeros(0), starts, PARTIAL)
        gain = np.maximum(1.0, 10 ** ((TARGET_DBFS - level) / 10))  # power gain, raise only
        blocks = np.lib.stride_tricks.sliding_window_view(spec, (PARTIAL, N_MELS))[starts, 0] * gain[:, None, None].astype(np.float32)
        import torch

        with torch.inference_mode():
            vectors = _network()(torch.from_numpy(np.ascontiguousarray(blocks, dtype=np.float32))).numpy()
        times = (starts * HOP + PARTIAL * HOP / 2) / SR
        return Embedding(vectors.astype(np.float32), times, level, n_samples / SR)
