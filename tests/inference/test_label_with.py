"""`detect --label-with`: a detector says where, a clip model names what (issue 26)."""

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import earmark
from earmark.cli import app
from earmark.data.labels import Event, read_labels
from earmark.inference.detect import label_events
from tests.conftest import tone

SR = 16000


def _clips(root, classes: dict, rng, n: int = 4):
    for label, freq in classes.items():  # a frequency of 0: the noise alone
        (root / label).mkdir(parents=True)
        for i in range(n):
            y = tone(freq * (1 + 0.01 * i), sr=SR, duration_s=1.5, amplitude=0.5 * (freq > 0)) + rng.normal(0, 0.01, int(1.5 * SR)).astype(np.float32)
            sf.write(root / label / f"{i}.wav", y, SR)
    return root


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The detector knows the two tones as 'a' and 'b' (and the noise as background); the labeller as 'low' and 'high'."""
    rng = np.random.default_rng(0)
    tmp = tmp_path_factory.mktemp("label_with")
    det = earmark.train(_clips(tmp / "det", {"a": 440.0, "b": 2000.0, "background": 0.0}, rng), embedder="mfcc", classifier="logreg")
    lab = earmark.train(_clips(tmp / "lab", {"low": 440.0, "high": 2000.0}, rng), embedder="mfcc", classifier="logreg")
    det.save(tmp / "det.earmark")
    lab.save(tmp / "lab.earmark")
    y = rng.normal(0, 0.01, 12 * SR).astype(np.float32)  # 440 Hz at 1-4 s, 2 kHz at 6.5-9.5 s
    y[SR : 4 * SR] += tone(440.0, sr=SR, duration_s=3.0)
    y[int(6.5 * SR) : int(9.5 * SR)] += tone(2000.0, sr=SR, duration_s=3.0)
    sf.write(tmp / "rec.wav", y, SR)
    return tmp, lab


def test_each_event_keeps_its_edges_and_takes_the_clip_models_label(models):
    tmp, lab = models
    emb = lab.embed(tmp / "rec.wav")
    found = [Event(1.0, 4.0, "a", 0.9), Event(6.5, 9.5, "a", 0.8), Event(7.0, 7.01, "b", 0.7)]  # the last: 10 ms
    named = label_events(found, lab, emb)
    assert [(e.start_s, e.end_s, e.label) for e in named] == [(1.0, 4.0, "low"), (6.5, 9.5, "high"), (7.0, 7.01, "high")]
    quiet = type(emb)(emb.vectors, emb.times_s, np.full_like(emb.level_db, -120.0), emb.duration_s)
    assert label_events(found[:1], lab, quiet) == found[:1]  # silent to the labeller: the detector's own label stays
    assert named[0].score > 0.5 and named[0].mean_score == named[0].score


def test_detect_label_with_names_the_detectors_events(models, tmp_path):
    tmp, _ = models
    run = CliRunner().invoke
    args = ["detect", str(tmp / "det.earmark"), str(tmp / "rec.wav"), "--format", "audacity", "--merge-gap-s", "1"]
    r = run(app, [*args, "--out", str(tmp_path / "plain")])
    assert r.exit_code == 0, r.output
    r = run(app, [*args, "--out", str(tmp_path / "named"), "--label-with", str(tmp / "lab.earmark")])
    assert r.exit_code == 0, r.output
    plain = read_labels(tmp_path / "plain" / "rec.labels.txt", "audacity")
    named = read_labels(tmp_path / "named" / "rec.labels.txt", "audacity")
    assert [e.label for e in plain] == ["a", "b"] and [e.label for e in named] == ["low", "high"]
    assert [(e.start_s, e.end_s) for e in named] == [(e.start_s, e.end_s) for e in plain]
    assert abs(named[0].start_s - 1.0) < 1.0 and abs(named[1].end_s - 9.5) < 1.0


def test_label_with_is_checked_before_any_audio_work(models, tmp_path):
    tmp, _ = models
    run = CliRunner().invoke
    base = ["detect", str(tmp / "det.earmark"), str(tmp / "rec.wav"), "--out", str(tmp_path / "o")]
    r = run(app, [*base, "--label-with", str(tmp_path / "missing.earmark")])
    assert r.exit_code != 0 and "missing.earmark" in r.output and "Traceback" not in r.output
    r = run(app, [*base, "--label-with", str(tmp / "lab.earmark"), "--workers", "1"])
    assert r.exit_code != 0 and "'--label-with' option runs on this machine only" in r.output
    db = tmp_path / "voices"
    db.mkdir()
    (db / "voices.json").write_text("{}")  # what marks a voice database folder: refused by its kind, never opened
    r = run(app, [*base, "--label-with", str(db)])
    assert r.exit_code != 0 and "not the voice database" in r.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
