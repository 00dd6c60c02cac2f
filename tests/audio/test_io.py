import numpy as np
import pytest
import soundfile as sf

from earmark.audio import load, stream
from earmark.audio.io import audio_info
from tests.conftest import tone


@pytest.mark.parametrize("fmt,subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")])
def test_formats_decode_to_mono_float32(tmp_path, fmt, subtype):
    y = tone(440.0, sr=22050, duration_s=1.0)
    path = tmp_path / f"t.{fmt}"
    sf.write(path, np.stack([y, y], axis=1), 22050, format=fmt.upper(), subtype=subtype)
    out, sr = load(path)
    assert sr == 22050 and out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - len(y)) < 3000  # mp3 adds encoder delay
    spectrum = np.abs(np.fft.rfft(out[:22050 // 2]))
    assert abs(np.argmax(spectrum) * 2 - 440) <= 2


def test_resampling_keeps_the_tone(tone_wav):
    y, sr = load(tone_wav, sr=44100)
    assert sr == 44100 and abs(len(y) - 88200) <= 1
    spectrum = np.abs(np.fft.rfft(y))
    freq = np.argmax(spectrum) * sr / len(y)
    assert abs(freq - 1000.0) < 1.0
    assert np.isclose(np.max(np.abs(y[1000:-1000])), 0.5, atol=0.01)


def test_stream_in_blocks_equals_whole_load(tone_wav):
    whole, _ = load(tone_wav, sr=22050)
    parts = np.concatenate(list(stream(tone_wav, sr=22050, block_frames=1000)))
    np.testing.assert_allclose(parts, whole, atol=1e-6)


def test_info_reads_header(tone_wav):
    info = audio_info(tone_wav)
    assert (info.sample_rate, info.channels, info.frames) == (16000, 1, 32000)
    assert info.duration_s == 2.0
