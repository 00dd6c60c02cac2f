"""``logmel``: log-mel patches, the input of the networks trained here (no pretrained weights).

Each window is a ``(n_mels, n_frames)`` patch of a log-mel spectrogram in
dB: 22,050 Hz audio, 1024-sample Hann frames every 512 samples (centred),
128 mel bands (Slaney), ``10 log10(power + 1e-10)``. With the defaults a
patch is 128 frames, about 3 s, as in Salamon & Bello's SB-CNN; patches are
taken every ``hop_s`` seconds, and a clip shorter than one patch is
zero-padded (in the waveform) to one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from earmark.audio.windows import rms_db
from earmark.embeddings.base import Embedder, Embedding, block_levels, block_starts
from earmark.errors import check_positive
from earmark.features.mel import MAX_BANDS, MAX_HOP_S, MAX_N_FFT
from earmark.features.mel import mel_frames

SR, N_FFT, HOP = 22050, 1024, 512


class LogMelPatches(Embedder):
    """Log-mel patches ``(n_mels, n_frames)`` per window.

    Parameters
    ----------
    n_mels : int
        Mel bands (128 as SB-CNN).
    n_frames : int
        STFT frames per patch (128: 2.97 s).
    hop_s : float
        Hop between patches in seconds, snapped to whole frames (1.0 s).
    """

    name = "logmel"
    version = "1"
    sample_rate = SR
    n_fft, hop_length = N_FFT, HOP
    licence = "none"
    measured_realtime = None

    def __init__(self, *, n_mels: int = 128, n_frames: int = 128, hop_s: float = 1.0) -> None:
        self.n_mels = check_positive("n_mels", n_mels, kind=int, high=MAX_BANDS)
        self.n_frames = check_positive("n_frames", n_frames, kind=int, high=MAX_N_FFT)
        check_positive("hop_s", hop_s, high=MAX_HOP_S)
        self._hop_frames = max(1, round(hop_s * self.sample_rate / self.hop_length))
        self.dims = self.n_mels * self.n_frames

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return (self.n_mels, self.n_frames)

    @property
    def window_s(self) -> float:
        return (self.n_frames - 1) * self.hop_length / self.sample_rate

    @property
    def hop_s(self) -> float:
        return self._hop_frames * self.hop_length / self.sample_rate

    def params(self) -> dict:
        return {"n_mels": self.n_mels, "n_frames": self.n_frames, "hop_frames": self._hop_frames, "n_fft": self.n_fft, "hop_length": self.hop_length}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        mels, powers = [], []

        def on_frames(frames: np.ndarray) -> None:
            mels.append(mel_frames(frames, sr=self.sample_rate, n_mels=self.n_mels))
            powers.append(10.0 ** (rms_db(frames).astype(np.float64) / 10.0))

        n_samples = self._stft_frames(chunks, n_fft=self.n_fft, hop=self.hop_length, on_frames=on_frames)
        spec = np.concatenate(mels) if mels else np.zeros((0, self.n_mels), np.float32)
        starts = block_starts(len(spec), self.n_frames, self._hop_frames)
        if len(spec) < starts[-1] + self.n_frames:
            spec = np.pad(spec, ((0, starts[-1] + self.n_frames - len(spec)), (0, 0)))
        db = (10.0 * np.log10(spec + np.float32(1e-10))).astype(np.float32)
        patches = np.lib.stride_tricks.sliding_window_view(db, (self.n_frames, self.n_mels))[starts, 0]
        vectors = np.ascontiguousarray(patches.transpose(0, 2, 1))  # (n, n_mels, n_frames)
        times = (starts + self.n_frames / 2) * self.hop_length / self.sample_rate
        return Embedding(vectors, times, block_levels(np.concatenate(powers) if powers else np.zeros(0), starts, self.n_frames),
                         n_samples / self.sample_rate)


class KeywordMel(LogMelPatches):
    """Log-mel patches for spoken keywords: 16 kHz, 40 bands, 32 ms frames every 10 ms, 1-s patches.

    The input of the keyword-spotting networks (``kws-crnn``), as in the
    small-footprint KWS models (40 log-mel bands over a 1-s window). A
    Speech Commands clip is exactly one patch.

    Parameters
    ----------
    n_mels : int
        Mel bands (40).
    n_frames : int
        Frames per patch (101: 1 s).
    hop_s : float
        Hop between patches in seconds, snapped to whole frames (1.0 s).
    """

    name = "kws-mel"
    sample_rate = 16000
    n_fft, hop_length = 512, 160

    def __init__(self, *, n_mels: int = 40, n_frames: int = 101, hop_s: float = 1.0) -> None:
        super().__init__(n_mels=n_mels, n_frames=n_frames, hop_s=hop_s)
