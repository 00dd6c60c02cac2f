import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from earmark.errors import ParameterError
from earmark.models import CLASSIFIERS, EmbeddingClassifier, aggregate


def _blobs(rng, n=60, d=8):
    y = np.repeat(["a", "b", "c"], n // 3)
    centres = {"a": 0.0, "b": 3.0, "c": -3.0}
    X = np.stack([rng.normal(centres[c], 1.0, size=d) for c in y]).astype(np.float32)
    return X, y


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_each_classifier_separates_blobs(rng, name):
    X, y = _blobs(rng)
    clips = [np.stack([x, x + 0.1]) for x in X]  # two windows per clip
    clf = EmbeddingClassifier(name).fit(clips[::2], y[::2])
    assert (clf.predict(clips[1::2]) == y[1::2]).mean() >= 0.9
    proba = clf.predict_proba(clips[1::2])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_works_in_pipeline_and_cross_val_score(rng):
    X, y = _blobs(rng)
    pipe = Pipeline([("id", FunctionTransformer()), ("clf", EmbeddingClassifier("logreg"))])
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.9


def test_aggregation_known_answers():
    p = np.array([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]])
    np.testing.assert_allclose(aggregate(p, "mean"), [0.7, 0.3])
    np.testing.assert_allclose(aggregate(p, "vote"), [2 / 3, 1 / 3])
    np.testing.assert_allclose(aggregate(p, "max"), [0.9 / 1.5, 0.6 / 1.5])
    with pytest.raises(ParameterError, match="aggregation"):
        aggregate(p, "median")


def test_one_class_is_rejected(rng):
    with pytest.raises(ParameterError, match="at least 2 classes"):
        EmbeddingClassifier().fit(rng.normal(size=(4, 3)), ["a"] * 4)


@pytest.mark.parametrize("method", ["mean", "vote", "max"])
def test_vectorised_clip_aggregation_equals_per_clip(rng, method):
    from earmark.models import aggregate_clips

    lengths = [1, 3, 2, 5]
    p = rng.dirichlet(np.ones(4), size=sum(lengths))
    bounds = np.cumsum([0] + lengths)
    expected = np.stack([aggregate(p[a:b], method) for a, b in zip(bounds[:-1], bounds[1:])])
    np.testing.assert_allclose(aggregate_clips(p, lengths, method), expected)
