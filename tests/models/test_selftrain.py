"""Self-training on unlabelled clips: pseudo-labels only above the threshold and balanced, the held-out guard, and
``train --unlabelled`` on real recordings of other classes, which must do no harm."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from earmark.errors import ParameterError
from earmark.models import get_model
from earmark.models.selftrain import SelfTraining, pseudo_labels, self_train


def test_pseudo_labels_only_above_the_threshold_most_confident_first_and_at_most_per_class():
    proba = np.array([[0.95, 0.05], [0.60, 0.40], [0.49, 0.51], [0.30, 0.70], [0.10, 0.90], [0.97, 0.03], [0.55, 0.45]])
    taken = np.zeros(7, bool)
    assert pseudo_labels(proba, taken, threshold=0.58, per_class=10).tolist() == [0, 1, 3, 4, 5]
    assert pseudo_labels(proba, taken, threshold=0.5, per_class=2).tolist() == [0, 3, 4, 5]  # the two surest of each
    taken[[0, 5]] = True
    got = pseudo_labels(proba, taken, threshold=0.5, per_class=2)
    assert set(got) == {1, 6, 3, 4} and not set(got) & {0, 5}  # taken rows are never labelled again
    assert pseudo_labels(proba, np.zeros(7, bool), threshold=0.99, per_class=5).size == 0


def _blobs(rng, n, *, classes=3, nuisance=20, spread=2.0, apart=3.0):
    """Classes apart along the first few dimensions, buried in wide nuisance dimensions (few labels overfit them)."""
    y = np.repeat(np.arange(classes), n)
    X = rng.normal(size=(len(y), classes + nuisance)) * np.r_[np.ones(classes) * 0.6, np.full(nuisance, spread)]
    X[np.arange(len(y)), y] += apart
    return [x[None] for x in X], np.array([f"c{k}" for k in y])


def test_self_training_helps_where_the_unlabelled_clips_are_of_the_same_classes_and_the_guard_keeps_it(rng):
    X, y = _blobs(rng, 3)
    U, u_true = _blobs(rng, 100)
    T, t_true = _blobs(rng, 200)
    est = get_model("logreg", classifier_params={"C": 1.0})
    plain = est.fit(X, y)
    model, report = self_train(get_model("logreg", classifier_params={"C": 1.0}), X, y, U, SelfTraining(rounds=5))
    assert report["used"] and report["n_pseudo"] > 30 and report["reason"].startswith("kept")
    assert report["guard"]["mean_self_trained_accuracy"] > report["guard"]["mean_plain_accuracy"]
    wrong = sum(lab != u_true[i] for i, lab in report["pseudo_labels"].items())
    assert wrong / report["n_pseudo"] < 0.2
    assert (model.predict(T) == t_true).mean() > (plain.predict(T) == t_true).mean() + 0.08


def test_the_guard_keeps_the_plain_model_when_pseudo_labels_do_not_help(rng):
    X, y = _blobs(rng, 6, nuisance=2, spread=1.0, apart=2.0)  # easy: the labelled clips say it all
    U = [rng.normal(size=(1, 5)) * 5 for _ in range(60)]  # other sounds altogether
    plain = get_model("logreg").fit(X, y)
    model, report = self_train(get_model("logreg"), X, y, U)
    assert not report["used"] and report["reason"].startswith("not kept") and report["n_pseudo"] == 0
    np.testing.assert_allclose(model.predict_proba(X), plain.predict_proba(X))


def test_without_two_labelled_clips_per_class_there_is_no_check_so_the_plain_model_is_kept(rng):
    X, y = _blobs(rng, 1)
    model, report = self_train(get_model("logreg"), X, y, _blobs(rng, 20)[0])
    assert not report["used"] and "at least 2 labelled clips" in report["reason"]
    unguarded, report = self_train(get_model("logreg"), X, y, _blobs(rng, 20)[0], SelfTraining(guard=False, threshold=0.34))
    assert report["used"] and report["guard"] is None and report["n_pseudo"] > 0


def test_settings_and_tags_are_refused_before_any_fitting():
    with pytest.raises(ParameterError, match="'threshold' parameter"):
        self_train(get_model("logreg"), [np.zeros((1, 2))] * 2, ["a", "b"], [np.zeros((1, 2))], SelfTraining(threshold=1.5))
    with pytest.raises(ParameterError, match="several tags"):
        self_train(get_model("logreg"), [np.zeros((1, 2))] * 2, ["a;b", "b"], [np.zeros((1, 2))])


def test_train_with_unlabelled_recordings_of_other_classes_only_does_no_harm_and_says_so(demo_subset, cache_dir, tmp_path, caplog):
    import csv

    from earmark.api import train
    from earmark.cli import app
    from tests.conftest import DEMO, make_demo_subset

    others = make_demo_subset(tmp_path / "others", per_class=6, classes=("chainsaw", "clock_tick", "crackling_fire"))
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for f in others.rglob("*.flac"):
        shutil.copy(f, unlabelled / f.name)
    rows = [r for r in csv.DictReader(open(DEMO / "train" / "metadata.csv")) if r["label"] in ("dog", "rooster", "rain")]
    held = [r for c in ("dog", "rooster", "rain") for r in [x for x in rows if x["label"] == c][3:]]  # not in demo_subset
    files, truth = [DEMO / "train" / r["filename"] for r in held], np.array([r["label"] for r in held])
    plain = train(demo_subset, cache_dir=cache_dir)
    with caplog.at_level(logging.INFO, logger="earmark"):
        model = train(demo_subset, cache_dir=cache_dir, unlabelled=unlabelled)
    u = model.info["unlabelled"]
    assert u["n_unlabelled"] >= 18 and u["folder"] == str(unlabelled) and "pseudo_labels" not in u
    assert str(unlabelled) in caplog.text and u["reason"] in caplog.text  # the log says what was kept, and why
    accuracy = lambda m: np.mean(np.array([p.label for p in m.predict(files)]) == truth)  # noqa: E731
    assert len(files) == 15 and accuracy(plain) >= 0.9 and abs(accuracy(model) - accuracy(plain)) <= 2 / 15
    if not u["used"]:  # the plain model, as it was
        np.testing.assert_allclose(model.predict_proba(files), plain.predict_proba(files))
    result = CliRunner().invoke(app, ["train", str(demo_subset), "--embedder", "mfcc", "--unlabelled", str(unlabelled),
                                      "--cache-dir", str(cache_dir), "--out", str(tmp_path / "m.earmark"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "unlabelled:" in result.output and str(unlabelled) in result.output
    result = CliRunner().invoke(app, ["train", str(demo_subset), "--unlabelled", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.earmark")])
    assert result.exit_code != 0 and "--unlabelled" in result.output and "not a folder" in result.output


def test_the_learning_curve_runs_each_model_with_and_without_the_undrawn_clips(demo_subset, cache_dir):
    from earmark.api import curve

    c = curve(demo_subset, embedders=("mfcc",), classifiers=("logreg",), shots=(1, 2), repeats=2, cv=3, cache_dir=cache_dir,
              unlabelled=True)
    assert {r["classifier"] for r in c["summary"]} == {"logreg", "logreg + unlabelled"}
    runs = [r for r in c["runs"] if r["classifier"] == "logreg + unlabelled"]
    assert all(r["n_unlabelled"] == 6 - r["n_train"] for r in runs)  # 9 clips, 3 per test fold: 6 to train on
    assert all(r["n_pseudo"] == 0 for r in runs if not r["used"])
