"""Speaker verification figures (EER, trials, identification) and the metric-learned embedding."""

import numpy as np
import pytest

from earmark.metrics.speakers import equal_error_rate, identification_accuracy, trials, unit
from earmark.models import get_model


def test_equal_error_rate_against_hand_computed_values():
    # targets 0.9 0.8 0.6 0.3, non-targets 0.7 0.5 0.2 0.1: at a cut between 0.6 and 0.7 one target of four is
    # rejected (0.3) and one non-target of four accepted (0.7): both rates 0.25
    scores = [0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.2, 0.1]
    target = [1, 1, 1, 1, 0, 0, 0, 0]
    eer, threshold = equal_error_rate(scores, target)
    assert eer == pytest.approx(0.25)
    assert 0.3 < threshold <= 0.7
    assert equal_error_rate([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])[0] == 0.0  # separable
    with pytest.raises(ValueError, match="both target and non-target"):
        equal_error_rate([0.5, 0.6], [1, 1])


def test_trials_enrol_three_clips_and_test_the_rest(rng):
    speakers = np.repeat(["a", "b", "c"], 5)
    centres = {"a": [1, 0, 0], "b": [0, 1, 0], "c": [0, 0, 1]}
    vectors = np.array([centres[s] for s in speakers], float) + 0.05 * rng.normal(size=(15, 3))
    t = trials(vectors, speakers, enrol=3)
    assert t["speakers"] == ["a", "b", "c"] and len(t["held"]) == 6  # 2 held-back clips per speaker
    assert t["is_target"].sum() == 6 and len(t["scores"]) == 18
    assert equal_error_rate(t["scores"], t["is_target"])[0] == 0.0
    assert identification_accuracy(t, speakers) == 1.0 and identification_accuracy(t, speakers, among=2) == 1.0
    np.testing.assert_allclose(np.linalg.norm(t["prints"], axis=1), 1.0)
    assert unit(np.zeros((1, 3))).tolist() == [[0.0, 0.0, 0.0]]


def test_metric_embedding_starts_as_the_identity_and_separates_unseen_classes(rng):
    """Classes whose difference lies along a few directions mixed with loud nuisance directions: the triplet-trained
    projection learns to weigh the useful ones, which also separates classes never seen in training."""
    def clips(n_classes, per_class, seed):
        g = np.random.default_rng(seed)
        means = g.normal(size=(n_classes, 4))
        out, labels = [], []
        for k in range(n_classes):
            for _ in range(per_class):
                x = np.concatenate([means[k] + 0.3 * g.normal(size=4), 3.0 * g.normal(size=12)])
                out.append(x[None, :].astype(np.float32))
                labels.append(f"s{k}")
        return out, np.array(labels)

    train, y = clips(30, 10, 1)
    model = get_model("metric", max_epochs=50, learning_rate=0.01)
    untrained = get_model("metric", max_epochs=1, learning_rate=1e-9).fit(train, y)
    np.testing.assert_allclose(untrained.network_.weight.detach().numpy(), np.eye(16), atol=1e-6)
    model.fit(train, y)
    test, z = clips(8, 6, 2)  # new classes
    raw = equal_error_rate(*_trial_scores(unit(np.concatenate(test)), z))[0]
    learned = equal_error_rate(*_trial_scores(model.embed_clips(test), z))[0]
    assert learned < 0.5 * raw


def _trial_scores(vectors, labels):
    t = trials(vectors, labels, enrol=3)
    return t["scores"], t["is_target"]


def test_an_unknown_voice_is_rejected_at_the_calibrated_threshold(tmp_path, rng):
    """Known answer on vectors: calibration speakers are tight clusters, so the EER threshold sits between same-speaker
    (about 0.99) and different-speaker (about 0) similarities; a new voice is then 'unknown' and an enrolled one accepted."""
    from earmark.inference.voices import VoiceDB

    def voice(centre, n):
        return unit(centre + 0.05 * rng.normal(size=(n, 16)))

    centres = unit(rng.normal(size=(8, 16)))
    db = VoiceDB(tmp_path / "db", {"front_end": {"name": "test"}})
    cal = np.concatenate([voice(c, 6) for c in centres[:5]])
    calibration = db.calibrate(cal, np.repeat([f"c{i}" for i in range(5)], 6), "synthetic")
    assert calibration["eer"] == 0.0 and calibration["n_speakers"] == 5
    assert 0.2 < db.threshold < 0.99
    db.enrol("ann", [tmp_path / f"a{i}.wav" for i in range(3)], voice(centres[5], 3))
    db.enrol("bob", [tmp_path / f"b{i}.wav" for i in range(3)], voice(centres[6], 3))
    db.save()
    again = VoiceDB.open(tmp_path / "db")
    assert again.names == ["ann", "bob"] and again.threshold == pytest.approx(db.threshold)
    ann, stranger = again.identify(np.vstack([voice(centres[5], 1), voice(centres[7], 1)]))
    assert ann["speaker"] == "ann" and stranger["speaker"] == "unknown" and stranger["closest"] in ("ann", "bob")
    accepted, rejected = again.verify("bob", np.vstack([voice(centres[6], 1), voice(centres[7], 1)]))
    assert accepted["accepted"] and not rejected["accepted"]
    with pytest.raises(Exception, match="not enrolled"):
        again.verify("carol", voice(centres[6], 1))


def test_enroll_identify_verify_round_trip_on_real_voices(fsdd, tmp_path, cache_dir):
    """FSDD speakers enrolled from 3 digits each and recognised on other digits, through the CLI; without calibration verify
    refuses with the fix."""
    import json

    from typer.testing import CliRunner

    from earmark.cli import app

    def run(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    audio, db = fsdd / "audio", tmp_path / "voices"
    for name in ("george", "jackson", "lucas"):
        r = run("enroll", name, *(audio / f"{d}_{name}_0.wav" for d in range(3)), "--db", db, "--cache-dir", cache_dir)
        assert r.exit_code == 0, r.output
        assert f"enrolled {name} from 3 clips" in r.output and "no threshold yet" in r.output
    r = run("identify", db, *(audio / f"{d}_{n}_5.wav" for n in ("george", "jackson", "lucas") for d in (5, 6)), "--format", "json",
            "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["speaker"] for row in rows] == ["george"] * 2 + ["jackson"] * 2 + ["lucas"] * 2  # different digits, same voices
    r = run("verify", db, "george", audio / "5_george_5.wav", "--cache-dir", cache_dir)
    assert r.exit_code == 1 and "no calibrated threshold" in r.output and "--calibrate DATA" in r.output
    r = run("verify", db, "zoe", audio / "5_george_5.wav")
    assert r.exit_code == 1 and "'zoe' is not enrolled" in r.output
    r = run("identify", tmp_path / "nowhere", audio / "5_george_5.wav")
    assert r.exit_code == 1 and "no voice database here" in r.output
    r = run("enroll", "x", tmp_path / "missing.wav", "--db", db)
    assert r.exit_code == 1 and "No usable clip of 'x'" in r.output


def test_detect_with_a_voice_database_says_who_speaks_when(fsdd, tmp_path, cache_dir):
    """george, then jackson, then theo (never enrolled), 1 s of silence between: a known-answer conversation of real
    voices; detect with the database labels the spans in order and writes an Audacity label track."""
    import soundfile as sf
    from typer.testing import CliRunner

    from earmark.audio import load
    from earmark.cli import app

    audio, db = fsdd / "audio", tmp_path / "voices"
    run = CliRunner().invoke
    for name in ("george", "jackson"):
        assert run(app, ["enroll", name, *(str(audio / f"{d}_{name}_0.wav") for d in range(3)), "--db", str(db),
                         "--cache-dir", str(cache_dir)]).exit_code == 0
    parts, truth, t = [], [], 0.0
    for name in ("george", "jackson", "theo"):
        turn = np.concatenate([load(audio / f"{d}_{name}_{take}.wav", sr=16000)[0] for d in range(3, 8) for take in (1, 2)])
        truth.append((name if name != "theo" else "unknown", t, t + len(turn) / 16000))
        parts += [turn, np.zeros(16000, np.float32)]
        t += len(turn) / 16000 + 1.0
    sf.write(tmp_path / "talk.wav", np.concatenate(parts), 16000)
    out = tmp_path / "who"
    r = run(app, ["detect", str(db), str(tmp_path / "talk.wav"), "--threshold", "0.55", "--hop-s", "0.4", "--median-windows", "5",
                  "--min-duration-s", "1", "--merge-gap-s", "0.5", "--format", "audacity", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    rows = [line.split("\t") for line in (out / "talk.labels.txt").read_text().splitlines()]
    events = [(label, float(a), float(b)) for a, b, label in rows]
    assert [e[0] for e in events] == ["george", "jackson", "unknown"]
    for (label, a, b), (_, ta, tb) in zip(events, truth):
        assert ta <= (a + b) / 2 <= tb  # each turn found where it is
        assert min(b, tb) - max(a, ta) >= 0.5 * (b - a)  # and mostly inside it
    r = run(app, ["detect", str(db), str(tmp_path / "talk.wav"), "--out", str(out)])
    assert r.exit_code == 1 and "no calibrated threshold" in r.output and "--threshold" in r.output
