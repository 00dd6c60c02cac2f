import librosa
import numpy as np
import pytest
import torch  # noqa: F401  (loaded: short signals take the torch.stft path, see earmark.features.mel)

from earmark.errors import ParameterError
from earmark.features import log_mel, melspectrogram, mfcc, power_spectrogram
from tests.conftest import tone


def _rel(a, b):
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6 * np.abs(b).max()))


@pytest.mark.parametrize(
    "kw",
    [
        dict(sr=22050, n_fft=2048, hop_length=512, n_mels=128),
        dict(sr=16000, n_fft=512, hop_length=160, win_length=400, n_mels=64, fmin=50.0, fmax=7000.0),
        dict(sr=44100, n_fft=2048, hop_length=1024, n_mels=96, htk=True, norm=1.0, fmax=22050.0),
        dict(sr=22050, n_fft=1024, hop_length=256, n_mels=40, center=False, power=1.0),
    ],
)
@pytest.mark.parametrize("path", ["torch.stft", "chunks on the thread pool"])
def test_melspectrogram_matches_librosa(rng, kw, path, monkeypatch):
    from earmark.features import mel

    if path != "torch.stft":
        monkeypatch.setattr(mel, "_TORCH_SAMPLES", 0)
    y = rng.normal(size=kw["sr"] * 3).astype(np.float32) * 0.1
    ours = melspectrogram(y, **kw)
    ref = librosa.feature.melspectrogram(y=y, **kw)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert _rel(ours, ref) < 1e-4


def test_log_mel_and_mfcc_match_librosa(rng):
    y = rng.normal(size=22050 * 2).astype(np.float32)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050), ref=1.0)
    np.testing.assert_allclose(log_mel(y, sr=22050), ref, atol=1e-3)
    np.testing.assert_allclose(mfcc(y, sr=22050, n_mfcc=20), librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20), atol=5e-3)


def test_tone_peaks_in_its_bin():
    sr, n_fft = 16000, 1024
    spec = power_spectrogram(tone(1000.0, sr=sr, duration_s=1.0), n_fft=n_fft, hop_length=256)
    assert np.argmax(spec[:, 10]) == round(1000 * n_fft / sr)


def test_bad_signal_rejected():
    with pytest.raises(ParameterError, match="mono"):
        melspectrogram(np.zeros((2, 100), np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        melspectrogram(np.full(4096, np.nan, np.float32))
    with pytest.raises(ParameterError, match="n_fft"):
        melspectrogram(np.zeros(4096, np.float32), n_fft=0)
