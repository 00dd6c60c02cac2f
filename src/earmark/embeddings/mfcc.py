"""``mfcc``: MFCC mean and standard deviation per window, the weight-free baseline."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from earmark.audio.windows import peak_normalize
from earmark.embeddings.base import Embedding, SecondsWindows
from earmark.errors import check_positive
from earmark.features.mel import MAX_BANDS, MAX_N_FFT
from earmark.features import mfcc


class MfccEmbedder(SecondsWindows):
    """Mean and std of ``n_mfcc`` MFCCs over each analysis window (``2 * n_mfcc`` dims).

    Parameters
    ----------
    window_s, hop_s : float
        Analysis window and hop in seconds. A clip shorter than one window is
        zero-padded to one window.
    n_mfcc, n_mels, n_fft, hop_length : int
        MFCC settings (librosa's names; lengths in samples at 22,050 Hz).
    normalize : bool
        Scale each window to a peak of 1 before the MFCCs (per-window
        normalisation, streaming-friendly; levels for gating are measured
        before it).
    """

    name = "mfcc"
    version = "1"
    sample_rate = 22050
    licence = "none"
    measured_realtime = 723.0

    def __init__(self, *, window_s: float = 1.0, hop_s: float = 0.5, n_mfcc: int = 20, n_mels: int = 40, n_fft: int = 1024, hop_length: int = 512,
                 normalize: bool = False) -> None:
        super().__init__(window_s=window_s, hop_s=hop_s)
        self.n_mfcc = check_positive("n_mfcc", n_mfcc, kind=int, high=MAX_BANDS)
        self.n_mels = check_positive("n_mels", n_mels, kind=int, high=MAX_BANDS)
        self.n_fft = check_positive("n_fft", n_fft, kind=int, high=MAX_N_FFT)
        self.hop_length = check_positive("hop_length", hop_length, kind=int, high=MAX_N_FFT)
        self.normalize = bool(normalize)
        self.dims = 2 * self.n_mfcc

    def params(self) -> dict:
        return {"window_s": self._window_s, "hop_s": self._hop_s, "n_mfcc": self.n_mfcc, "n_mels": self.n_mels, "n_fft": self.n_fft, "hop_length": self.hop_length, "normalize": self.normalize}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        length, hop = int(round(self._window_s * self.sample_rate)), int(round(self._hop_s * self.sample_rate))
        return self._embed_windows(chunks, length=length, hop=hop, batch_size=64, embed=self._vectors)

    def _vectors(self, windows: np.ndarray) -> np.ndarray:
        return np.stack([self._stats(w) for w in (peak_normalize(windows) if self.normalize else windows)])

    def _stats(self, window: np.ndarray) -> np.ndarray:
        # fft="scipy": the same features in every process, torch loaded or not (see earmark.features.mel)
        m = mfcc(window, sr=self.sample_rate, n_mfcc=self.n_mfcc, n_mels=self.n_mels, n_fft=self.n_fft, hop_length=self.hop_length,
                 fft="scipy")
        return np.concatenate([m.mean(axis=1), m.std(axis=1)])
