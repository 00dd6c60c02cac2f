"""Every kind of bad file gets an AudioLoadError naming the file and the fix."""

import numpy as np
import pytest
import soundfile as sf

from earmark.audio import load
from earmark.errors import AudioLoadError
from tests.conftest import tone


def _truncated(path):
    sf.write(path, tone(440, sr=16000, duration_s=1.0), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD = {
    "empty.wav": (lambda p: p.write_bytes(b""), "empty"),
    "text.wav": (lambda p: p.write_text("this is not audio\n" * 20), "not a readable audio file"),
    "truncated.wav": (_truncated, "truncated"),
    "nan.wav": (lambda p: sf.write(p, np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT"), "NaN"),
    "short.wav": (lambda p: sf.write(p, tone(440, sr=16000, duration_s=0.05), 16000), "shorter than"),
    "clip.aiff2": (lambda p: p.write_bytes(b"x"), "unsupported file type"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_is_named_with_reason(tmp_path, name):
    make, reason = BAD[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(AudioLoadError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and reason in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(AudioLoadError, match="no such file"):
        load(tmp_path / "nope.wav")
