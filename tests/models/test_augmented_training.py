"""Augmented copies: a fold trains on the copies of its training clips only, and a network never validates on a copy."""

from __future__ import annotations

import numpy as np
import pytest

from earmark.errors import ParameterError
from earmark.evaluation.cv import cross_validate
from earmark.models import get_model
from earmark.models.training import TrainSettings, train_network


def test_each_fold_trains_on_its_training_clips_copies_and_tests_on_originals(rng, monkeypatch):
    from earmark.models.heads import EmbeddingClassifier

    clips = [rng.normal(size=(2, 4)) + (k % 2) for k in range(20)]
    labels = np.array(["a", "b"] * 10)
    copies = [[np.full((2, 4), 1000.0 + k)] for k in range(20)]  # copy k is recognisable by its value
    seen = []
    original_fit = EmbeddingClassifier._fit

    def recording_fit(self, cs, y):
        seen.append({int(c[0, 0]) - 1000 for c in cs if c[0, 0] >= 1000})
        return original_fit(self, cs, y)

    monkeypatch.setattr(EmbeddingClassifier, "_fit", recording_fit)
    folds = [str(k % 5) for k in range(20)]
    result = cross_validate(get_model("logreg"), clips, labels, folds=folds, augmented=copies)
    assert len(seen) == 5
    for fold, used in zip(sorted(set(folds)), seen):
        assert used == {k for k in range(20) if folds[k] != fold}  # copies of the training clips, never of the test clips
    assert all(r["n_test"] == 4 for r in result["folds"])


def test_copies_of_a_validation_clip_neither_train_nor_validate():
    import torch

    n = 12
    windows = np.zeros((n * 2, 3), np.float32)
    labels = np.array([0, 1] * n)
    clip_of = np.concatenate([np.arange(n), np.arange(n)])
    is_copy = np.arange(2 * n) >= n
    net = torch.nn.Linear(3, 2)
    h = train_network(net, windows, labels, clip_of, 2, TrainSettings(max_epochs=1, validation_fraction=0.34), is_copy=is_copy)
    n_val_clips = h["n_validation_clips"]
    assert n_val_clips == 4
    assert h["n_validation_windows"] == n_val_clips  # originals only
    assert h["n_train_windows"] == 2 * (n - n_val_clips)  # the training clips and their copies; validation clips' copies dropped


def test_a_network_learns_from_copies_and_scores_without_them(rng):
    clips = [rng.normal(size=(1, 8, 6)).astype(np.float32) + (k % 2) for k in range(8)]
    y = np.array(["a", "b"] * 4)
    copies = [[c + rng.normal(0, 0.1, c.shape).astype(np.float32)] for c in clips]
    plain = get_model("timbre", max_epochs=2, validation_fraction=0.0).fit(clips, y)
    aug = get_model("timbre", max_epochs=2, validation_fraction=0.0).fit(clips, y, augmented=copies)
    assert aug.history_["n_train_windows"] == 16 and plain.history_["n_train_windows"] == 8
    np.testing.assert_array_equal(aug.predict_proba(clips), aug.predict_proba(clips))


def test_augmented_must_match_the_clips():
    clips = [np.zeros((1, 4)), np.ones((1, 4))]
    with pytest.raises(ParameterError, match="one list of copies per clip"):
        get_model("logreg").fit(clips, ["a", "b"], augmented=[[]])
    with pytest.raises(ParameterError, match="copy of clip 1 has windows of shape"):
        get_model("logreg").fit(clips, ["a", "b"], augmented=[[], [np.zeros((1, 5))]])


def test_embedding_heads_refuse_augmentations_that_act_on_network_inputs():
    with pytest.raises(ParameterError, match="specaugment work on a network's input patches"):
        get_model("logreg", augment="pitch,specaugment").check_params()


def test_evaluate_embeds_copies_for_an_embedding_model(demo_subset, cache_dir):
    import earmark

    plain = earmark.evaluate(demo_subset, model="logreg", embedder="mfcc", cv=3, cache_dir=cache_dir)
    aug = earmark.evaluate(demo_subset, model="logreg", embedder="mfcc", cv=3, cache_dir=cache_dir,
                           model_params={"augment": "pitch,noise,copies=2"})
    assert aug["classifier"]["model_params"]["augment"] == "pitch,noise,copies=2"
    assert aug["seconds"]["embed"] > 0 and plain["n_files"] == aug["n_files"] == 9
    assert [f["n_test"] for f in aug["folds"]] == [f["n_test"] for f in plain["folds"]]


def test_compare_puts_one_model_with_and_without_options_side_by_side(demo_subset, cache_dir):
    from typer.testing import CliRunner

    from earmark.cli import app

    r = CliRunner().invoke(app, ["compare", str(demo_subset), "--embedders", "mfcc", "--models",
                                 "logreg,logreg[augment=pitch,noise; random_state=1]", "--cv", "3", "--cache-dir", str(cache_dir)])
    assert r.exit_code == 0, r.output
    rows = [line for line in r.output.splitlines() if "mfcc" in line and "logreg" in line]
    assert len(rows) == 2 and "logreg[augment=pitch,noise; random_state=1]" in rows[1]


@pytest.mark.parametrize("text, expected", [
    ("sbcnn", ("sbcnn", {})),
    ("sbcnn[augment=pitch,mixup; max_epochs=20]", ("sbcnn", {"augment": "pitch,mixup", "max_epochs": 20})),
    ("finetune:aisfx[train=head; learning_rate=1e-2; time_budget_s=none]",
     ("finetune:aisfx", {"train": "head", "learning_rate": 0.01, "time_budget_s": None})),
])
def test_model_options_in_brackets(text, expected):
    from earmark.models.registry import parse_model, split_models

    assert parse_model(text) == expected
    assert split_models(f"logreg,{text}, knn") == ["logreg", text, "knn"]


@pytest.mark.parametrize("text", ["sbcnn[max_epochs=2", "sbcnn[max_epochs]", "sbcnn[a=1]x"])
def test_malformed_model_options_are_one_line(text):
    from earmark.models.registry import parse_model

    with pytest.raises(ParameterError, match="Model 'sbcnn"):
        parse_model(text)
