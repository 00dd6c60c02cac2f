"""Issue 25, defects 5 and 6: the voice database is checked like a model file, and enrolment never overwrites silently."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from earmark.errors import ModelFileError, ParameterError
from earmark.inference.voices import VoiceDB
from tests.conftest import shared_data
from tests.hostile.conftest import one_line_error, run


@pytest.fixture
def fsdd_db(tmp_path):
    audio = shared_data("fsdd") / "audio"
    db = tmp_path / "vdb"
    r = run("enroll", "george", *(audio / f"{d}_george_{i}.wav" for d, i in ((0, 0), (1, 1), (2, 2))), "--db", db,
            "--cache-dir", tmp_path / "cache", "-q")
    assert r.exit_code == 0, r.output
    return audio, db


def test_flipped_prints_are_caught_by_their_checksum(fsdd_db):
    audio, db = fsdd_db
    prints = db / "voices.safetensors"
    blob = bytearray(prints.read_bytes())
    blob[-20:] = bytes(b ^ 0xFF for b in blob[-20:])
    prints.write_bytes(bytes(blob))
    one_line_error(run("identify", db, audio / "5_george_5.wav"), "checksum")


@pytest.mark.parametrize("field, value", [("threshold", "high"), ("threshold", 1e37), ("threshold", float("nan")),
                                          ("encoder", "evil"), ("names", "george"), ("prints_sha256", None)])
def test_bad_fields_of_the_description_are_one_line(fsdd_db, field, value):
    audio, db = fsdd_db
    meta = json.loads((db / "voices.json").read_text())
    meta[field] = value
    (db / "voices.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError):
        VoiceDB.open(db)
    one_line_error(run("identify", db, audio / "5_george_5.wav"), str(db))


def test_enrolling_a_name_again_needs_replace(fsdd_db, tmp_path):
    audio, db = fsdd_db
    before = (db / "voices.safetensors").read_bytes()
    one_line_error(run("enroll", "george", audio / "0_jackson_2.wav", "--db", db), "already", "--replace")
    assert (db / "voices.safetensors").read_bytes() == before
    r = run("enroll", "george", audio / "0_jackson_2.wav", "--db", db, "--replace", "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    assert VoiceDB.open(db).speakers["george"]["n_clips"] == 1


def test_noise_and_tones_are_not_voices(fsdd_db, tmp_path, rng):
    _, db = fsdd_db
    noise, tone = tmp_path / "noise.wav", tmp_path / "tone.wav"
    sf.write(noise, (0.3 * rng.normal(size=16000)).astype(np.float32), 8000)
    sf.write(tone, (0.3 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)).astype(np.float32), 16000)
    line = one_line_error(run("enroll", "noisy", noise, tone, "--db", db), "no voice")
    assert "noisy" in line and "noisy" not in VoiceDB.open(db).names


def test_a_speaker_name_is_checked_before_any_audio_work(fsdd_db):
    _, db = fsdd_db
    with pytest.raises(ParameterError, match="already"):
        from earmark.api.voices import enroll

        enroll("george", ["/no/such/clip.wav"], db)
