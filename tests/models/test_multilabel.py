"""Multi-label data through the clip-model contract: tags, thresholds tuned on training data, heads, networks, files."""

from __future__ import annotations

import numpy as np
import pytest

from earmark.models import get_model
from earmark.models.aggregation import aggregate, aggregate_clips
from earmark.models.base import best_thresholds, is_multilabel, split_tags, tag_matrix
from tests.conftest import tagged_clips


def test_tags_are_split_and_encoded():
    assert split_tags("dog; rain;dog") == ["dog", "rain"] and split_tags("") == [] and split_tags(" ") == []
    assert is_multilabel(["dog", "rain;dog"]) and is_multilabel(["dog", ""]) and not is_multilabel(["dog", "rain"])
    np.testing.assert_array_equal(tag_matrix(["dog;rain", "", "rain"], ["dog", "rain"]), [[1, 1], [0, 0], [0, 1]])


def test_thresholds_maximise_f1_on_a_hand_computed_case():
    proba = np.array([[0.1, 0.2], [0.4, 0.3], [0.6, 0.9], [0.9, 0.8]])
    truth = np.array([[0, 0], [1, 0], [1, 1], [1, 0]])
    # tag 0: positives at 0.4, 0.6, 0.9 -> F1 = 1 between 0.1 and 0.4 (midpoint 0.25);
    # tag 1: one positive at 0.9 -> F1 = 1 between 0.8 and 0.9 (midpoint 0.85)
    np.testing.assert_allclose(best_thresholds(proba, truth), [0.25, 0.85])
    # a tag that is never (or always) present keeps 0.5
    np.testing.assert_allclose(best_thresholds(proba, np.zeros((4, 2))), [0.5, 0.5])


def test_linear_softmax_and_multilabel_pooling_by_hand():
    p = np.array([[0.9, 0.1], [0.3, 0.1]])
    lin = np.array([(0.81 + 0.09) / 1.2, (0.01 + 0.01) / 0.2])  # sum p^2 / sum p per tag
    np.testing.assert_allclose(aggregate_clips(p, [2], "linsoft", multilabel=True)[0], lin)
    np.testing.assert_allclose(aggregate(p, "linsoft"), lin / lin.sum())
    np.testing.assert_allclose(aggregate_clips(p, [2], "max", multilabel=True)[0], [0.9, 0.1])  # not renormalised
    np.testing.assert_allclose(aggregate_clips(p, [2], "vote", multilabel=True)[0], [0.5, 0.0])


def test_an_embedding_head_becomes_one_vs_rest_and_predicts_tag_sets(rng, tmp_path):
    X, y = tagged_clips(rng)
    est = get_model("logreg").fit(X, y)
    assert est.is_tagger and est.classes_.tolist() == ["bird", "car"] and est.thresholds_.shape == (2,)
    Xt, yt = tagged_clips(rng, 30)
    proba = est.predict_proba(Xt)
    assert proba.shape == (30, 2) and not np.allclose(proba.sum(axis=1), 1.0)  # independent tags
    assert (est.predict(Xt) == yt).mean() >= 0.9
    assert set(est.predict(Xt)) <= {"", "bird", "car", "bird;car"}

    from earmark.persistence import read_model_file, write_model_file

    path = write_model_file(tmp_path / "m.earmark", {
        "earmark_version": "test", "model": {"name": "logreg", "kind": "embedding head", "params": est.get_params(deep=False)},
        "front_end": {"name": "mfcc", "version": "1", "params": {}}, "classes": ["bird", "car"], "gate_db": None, "info": {}},
        est.fitted_parts())
    back = get_model("logreg").restore_parts(read_model_file(path)[1])
    assert back.is_tagger and np.array_equal(back.thresholds_, est.thresholds_)
    np.testing.assert_array_equal(back.predict(Xt), est.predict(Xt))


def test_a_network_trains_on_tags_with_binary_cross_entropy(rng):
    X = [rng.normal(size=(1, 32, 16)).astype(np.float32) + (2.0 if i % 2 == 0 else 0.0) for i in range(12)]
    y = np.array(["loud" if i % 2 == 0 else "" for i in range(12)], dtype=object)
    est = get_model("vgg-small", max_epochs=2, validation_fraction=0.0).fit(X, y)
    assert est.is_tagger and est.classes_.tolist() == ["loud"]
    assert est.predict_proba(X).shape == (12, 1) and (est.predict(X) == y).mean() >= 0.75
    with pytest.raises(Exception, match="Every label is empty"):
        get_model("logreg").fit(X, np.array(["", ""] * 6, dtype=object))


def test_one_tag_heads_score_presence(rng):
    X = [rng.normal(size=(3, 5)).astype(np.float32) + (2.5 if i % 2 == 0 else 0.0) for i in range(30)]
    y = np.array(["dog" if i % 2 == 0 else "" for i in range(30)], dtype=object)
    for name in ("logreg", "knn"):
        est = get_model(name).fit(X, y)
        proba = est.predict_proba(X)
        assert est.classes_.tolist() == ["dog"] and proba.shape == (30, 1)
        assert (est.predict(X) == y).mean() >= 0.9 and proba[::2].mean() > proba[1::2].mean()
