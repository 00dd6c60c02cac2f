"""``mfcc-frames``: one MFCC vector per STFT frame, the input of the recurrent tagger.

Diment & Virtanen's features (BACKGROUND.md section 3): 20 MFCCs of
2048-sample Hann frames every 512 samples at 44.1 kHz (centred, as
librosa), from 40 Slaney mel bands in dB (``10 log10(power + 1e-10)``, no
per-clip ``top_db`` clipping, so a stream gives the same numbers as the
whole file) through an orthonormal DCT-II. Each "window" is one frame, so
a clip is the sequence ``(n_frames, n_mfcc)`` a recurrent model reads, and
window scores are frame scores (11.6 ms apart) for ``detect``.

``mel-frames`` is the same framing without the DCT: 64 log-mel bands every
20 ms (882 samples), the input of the strong-label event detector
``sed-crnn`` (as the DCASE baselines read log-mel frames).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.fft import dct

from earmark.audio.windows import rms_db
from earmark.embeddings.base import Embedder, Embedding
from earmark.errors import check_positive
from earmark.features.mel import MAX_BANDS, MAX_N_FFT
from earmark.features.mel import mel_frames

SR = 44100


class MfccFrames(Embedder):
    """``n_mfcc`` MFCCs per frame.

    Parameters
    ----------
    n_mfcc, n_mels, n_fft, hop_length : int
        MFCC settings (librosa's names; lengths in samples at 44,100 Hz).
    hop_s : float or None
        Accepted for the front-end contract; the hop is ``hop_length`` samples
        (``with_hop`` refuses: every frame is already a window).
    """

    name = "mfcc-frames"
    version = "1"
    sample_rate = SR
    licence = "none"
    measured_realtime = None

    def __init__(self, *, n_mfcc: int = 20, n_mels: int = 40, n_fft: int = 2048, hop_length: int = 512, hop_s: float | None = None) -> None:
        self.n_mfcc = check_positive("n_mfcc", n_mfcc, kind=int, high=MAX_BANDS)
        self.n_mels = check_positive("n_mels", n_mels, kind=int, high=MAX_BANDS)
        self.n_fft = check_positive("n_fft", n_fft, kind=int, high=MAX_N_FFT)
        self.hop_length = check_positive("hop_length", hop_length, kind=int, high=MAX_N_FFT)
        self.dims = self.n_mfcc

    @property
    def window_s(self) -> float:
        return self.n_fft / SR

    @property
    def hop_s(self) -> float:
        return self.hop_length / SR

    def with_hop(self, hop_s: float) -> Embedder:
        from earmark.errors import ParameterError

        raise ParameterError(f"The {self.name!r} front end cannot change its hop (every frame is a window already, "
                             f"{self.hop_s * 1000:.1f} ms apart); leave --hop-s out.")

    def params(self) -> dict:
        return {"n_mfcc": self.n_mfcc, "n_mels": self.n_mels, "n_fft": self.n_fft, "hop_length": self.hop_length}

    def embed_stream(self, chunks: Iterable[np.ndarray]) -> Embedding:
        coefs, levels = [], []

        def on_frames(frames: np.ndarray) -> None:
            db = 10.0 * np.log10(mel_frames(frames, sr=SR, n_mels=self.n_mels).astype(np.float64) + 1e-10)
            coefs.append(self._coefficients(db).astype(np.float32))
            levels.append(rms_db(frames))

        n_samples = self._stft_frames(chunks, n_fft=self.n_fft, hop=self.hop_length, on_frames=on_frames)
        vectors = np.concatenate(coefs) if coefs else np.zeros((0, self.dims), np.float32)
        if not len(vectors):  # shorter than one hop: one frame of the padded clip
            vectors, levels = np.zeros((1, self.dims), np.float32), [np.array([-100.0], np.float32)]
        times = np.arange(len(vectors)) * self.hop_length / SR
        return Embedding(np.ascontiguousarray(vectors), times, np.concatenate(levels).astype(np.float32), n_samples / SR)

    def _coefficients(self, db: np.ndarray) -> np.ndarray:
        return dct(db, type=2, norm="ortho", axis=1)[:, : self.n_mfcc]


class MelFrames(MfccFrames):
    """``n_mels`` log-mel bands (dB) per frame, every ``hop_length`` samples at 44,100 Hz (20 ms by default)."""

    name = "mel-frames"
    version = "1"

    def __init__(self, *, n_mels: int = 64, n_fft: int = 2048, hop_length: int = 882, hop_s: float | None = None) -> None:
        super().__init__(n_mfcc=1, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length)
        self.dims = self.n_mels

    def params(self) -> dict:
        return {"n_mels": self.n_mels, "n_fft": self.n_fft, "hop_length": self.hop_length}

    def _coefficients(self, db: np.ndarray) -> np.ndarray:
        return db
