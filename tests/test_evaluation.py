import numpy as np
import pytest

from earmark.errors import ParameterError
from earmark.evaluation import cross_validate
from earmark.evaluation.cv import splits


def test_official_folds_are_used_in_order():
    labels = np.array(list("aabbaabb"))
    folds = ["1", "1", "1", "1", "2", "2", "2", "2"]
    out = splits(labels, folds=folds)
    assert [n for n, _, _ in out] == ["1", "2"]
    assert out[0][2].tolist() == [0, 1, 2, 3] and out[0][1].tolist() == [4, 5, 6, 7]


def test_train_test_split_via_test_folds():
    labels = np.array(list("abab"))
    out = splits(labels, folds=["train", "train", "test", "test"], test_folds=["test"])
    assert len(out) == 1 and out[0][0] == "test" and out[0][2].tolist() == [2, 3]
    with pytest.raises(ParameterError, match="not in the fold column"):
        splits(labels, folds=["train", "train", "test", "test"], test_folds=["dev"])


def test_cross_validate_known_answer(rng):
    # two perfectly separable classes: every fold is 100% right
    labels = np.repeat(["lo", "hi"], 10)
    clips = [np.full((2, 3), -5.0 if c == "lo" else 5.0) + rng.normal(0, 0.1, (2, 3)) for c in labels]
    r = cross_validate(clips, labels, cv=5, classifier="knn")
    assert r["accuracy_mean"] == 1.0 and r["accuracy_std"] == 0.0 and len(r["folds"]) == 5
    assert r["confusion_matrix"] == [[10, 0], [0, 10]]
    assert r["per_class"]["lo"]["recall"] == 1.0


def test_cv_larger_than_class_is_rejected():
    with pytest.raises(ParameterError, match="'cv' parameter"):
        splits(np.array(list("aab")), cv=2)
