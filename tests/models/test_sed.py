"""sed-crnn: strong labels teach event edges to the frame, weak labels still train, long recordings are scored in
bounded stretches, and a clip model refuses frame labels."""

from __future__ import annotations

import numpy as np
import pytest

from earmark.data.annotations import frames_from_events
from earmark.data.labels import Event
from earmark.embeddings import get_embedder
from earmark.embeddings.base import Embedding
from earmark.errors import ParameterError
from earmark.models import get_model
from earmark.pipeline import Model

N_FRAMES, BANDS = 120, 16


def _scenes(rng, n: int):
    """Noise frames with 0-2 bursts: 'a' raises bands 0-3, 'b' bands 8-11, 10-30 frames long at known onsets."""
    X, frames = [], []
    for _ in range(n):
        x = rng.normal(size=(N_FRAMES, BANDS)).astype(np.float32)
        lab = np.array([""] * N_FRAMES, dtype=object)
        for tag, band in (("a", 0), ("b", 8)):
            if rng.random() < 0.6:
                start, length = int(rng.integers(0, N_FRAMES - 30)), int(rng.integers(10, 31))
                x[start:start + length, band:band + 4] += 2.5
                lab[start:start + length] = [";".join(sorted({*filter(None, v.split(";")), tag})) for v in lab[start:start + length]]
        X.append(x)
        frames.append(lab)
    y = [";".join(sorted({t for v in f for t in v.split(";") if t})) for f in frames]
    return X, y, frames


def _sed(**kw):
    return get_model("sed-crnn", **{"hidden": 16, "learning_rate": 0.01, "max_epochs": 25, "patience": 25, **kw})


def _edges(p: np.ndarray) -> list[tuple[int, int]]:
    on = np.concatenate([[0], (p > 0.5).astype(int), [0]])
    d = np.diff(on)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def test_strong_labels_put_event_edges_on_the_right_frames(rng):
    X, y, frames = _scenes(rng, 64)
    est = _sed().fit(X, y, frame_labels=frames)
    assert est.history_["labels"] == "strong" and list(est.classes_) == ["a", "b"] and est.is_tagger
    X_test, _, frames_test = _scenes(np.random.default_rng(7), 16)
    errors, found, total = [], 0, 0
    for x, f in zip(X_test, frames_test):
        p = est.window_proba(x)
        assert p.shape == (N_FRAMES, 2)
        for k, tag in enumerate("ab"):
            truth = _edges(np.array([tag in v.split(";") for v in f], float))
            got = _edges(p[:, k])
            total += len(truth)
            for a, b in truth:
                match = [g for g in got if g[0] < b and g[1] > a]
                if match:
                    found += 1
                    errors += [abs(match[0][0] - a), abs(match[0][1] - b)]
    assert found >= 0.9 * total
    assert np.median(errors) <= 2  # frames: 40 ms at the mel-frames hop


def test_weak_labels_train_the_same_network_on_clip_tags(rng):
    X, y, _ = _scenes(rng, 32)
    est = _sed(max_epochs=3).fit(X, [v or ";" for v in y])
    assert est.history_["labels"] == "weak" and est.predict_proba(X).shape == (32, 2)


def test_a_long_recording_is_scored_in_stretches_and_bursts_late_in_it_are_found(rng, monkeypatch):
    from earmark.models import sed

    X, y, frames = _scenes(rng, 48)
    est = _sed(max_epochs=15).fit(X, y, frame_labels=frames)
    long = rng.normal(size=(1000, BANDS)).astype(np.float32)
    long[900:920, 0:4] += 2.5
    whole = est.window_proba(long)
    monkeypatch.setattr(sed, "CHUNK_FRAMES", 200)
    monkeypatch.setattr(sed, "CONTEXT_FRAMES", 60)
    chunked = est.window_proba(long)
    assert chunked.shape == whole.shape == (1000, 2)
    assert _edges(chunked[:, 0]) and all(880 <= a and b <= 940 for a, b in _edges(chunked[:, 0]))
    assert np.abs(chunked - whole).max() < 0.1  # 60 frames of context each side: nearly what the whole sequence gives


def test_the_model_file_keeps_the_frame_scores(rng, tmp_path):
    X, y, frames = _scenes(rng, 16)
    est = _sed(max_epochs=2).fit(X, y, frame_labels=frames)
    Model(get_embedder("mel-frames", n_mels=BANDS), est, "sed-crnn", None, {}).save(tmp_path / "s.earmark")
    back = Model.load(tmp_path / "s.earmark")
    np.testing.assert_allclose(back.estimator.window_proba(X[0]), est.window_proba(X[0]), atol=1e-6)
    assert back.estimator.history_["labels"] == "strong"


def test_clip_models_refuse_frame_labels_and_frame_labels_must_fit(rng):
    X, y, frames = _scenes(rng, 8)
    with pytest.raises(ParameterError, match="one label per clip; strong labels .* sed-crnn"):
        get_model("logreg").fit(X, y, frame_labels=frames)
    with pytest.raises(ParameterError, match="one label per window"):
        _sed().fit(X, y, frame_labels=[f[:-1] for f in frames])
    with pytest.raises(ParameterError, match="calibration and reject"):
        _sed(calibration="temperature").fit(X, y, frame_labels=frames)


def test_frames_from_events_labels_each_frame_by_the_events_it_lies_in():
    times = np.arange(0, 25.0, 0.5)  # 50 frames, 0.5 s apart, over 25 s: three stretches of about 10 s
    emb = Embedding(np.arange(50, dtype=np.float32)[:, None], times, np.zeros(50, np.float32), 25.0)
    events = [Event(1.0, 2.0, "dog"), Event(1.5, 3.0, "bird"), Event(12.0, 12.5, "dog")]
    clips, labels, frames = frames_from_events(emb, events)
    assert [len(c) for c in clips] == [17, 17, 16] and sum(len(f) for f in frames) == 50
    assert labels == ["bird;dog", "dog", ""]
    flat = np.concatenate(frames)
    assert flat[2] == "dog" and flat[3] == "bird;dog" and flat[4] == "bird" and flat[5] == "bird" and flat[6] == ""
    assert flat[24] == "dog" and flat[25] == ""  # [start, end): a frame at the offset is outside


def test_mix_scenes_train_sed_crnn_from_their_label_tracks_and_detect_finds_the_edges(tmp_path):
    """Known answer end to end: tones in noise (tests/data/test_mix.py's material), `mix` writes each scene's Audacity
    track, `train --labels audacity --model sed-crnn` learns from them, `detect` finds held-out tones within 100 ms."""
    import csv

    from typer.testing import CliRunner

    from earmark import api
    from earmark.cli import app
    from earmark.data.labels import read_labels
    from earmark.evaluation.events import event_based
    from tests.data.test_mix import _known

    root = _known(tmp_path / "src")
    api.mix(root, root, tmp_path / "mix", splits={"train": 48, "test": 8}, duration_s=6.0, event_rate=0.9, max_events=2,
            ebr_db=(0.0, 6.0), background_classes=["noise"], event_classes=["tone"], seed=3)
    tracks = sorted((tmp_path / "mix" / "audio" / "train").glob("*.labels.txt"))
    assert len(tracks) == 48 and sum(len(read_labels(t, "audacity")) for t in tracks) == sum(
        row["filename"].startswith("audio/train/") for row in csv.DictReader(open(tmp_path / "mix" / "events.csv")))
    run = CliRunner().invoke
    model = tmp_path / "sed.earmark"
    r = run(app, ["train", str(tmp_path / "mix" / "audio" / "train"), "--labels", "audacity", "--model",
                  "sed-crnn[max_epochs=12; patience=12; learning_rate=0.005]", "--out", str(model), "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    r = run(app, ["detect", str(model), str(tmp_path / "mix" / "audio" / "test"), "--out", str(tmp_path / "ev"),
                  "--format", "audacity", "--min-duration-s", "0.1", "--merge-gap-s", "0.1"])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "mix" / "events.csv", newline="") as f:
        truth = [row for row in csv.DictReader(f) if row["filename"].startswith("audio/test/")]
    ref, est = [], []
    for scene in sorted((tmp_path / "mix" / "audio" / "test").glob("*.wav")):
        name = f"audio/test/{scene.name}"
        ref += [Event(float(t["onset_s"]), float(t["offset_s"]), f"{name}|tone") for t in truth if t["filename"] == name]
        out = next((tmp_path / "ev").glob(f"{scene.stem}*"))
        est += [Event(e.start_s, e.end_s, f"{name}|{e.label}") for e in read_labels(out, "audacity")]
    assert len(ref) >= 8
    assert event_based(ref, est, onset_collar_s=0.1, offset_collar_s=0.1)["f1"] >= 0.8  # 0.88 here
