"""Speaker verification figures (EER, trials, identification) and the metric-learned embedding."""

import numpy as np
import pytest

from earmark.evaluation.speakers import equal_error_rate, identification_accuracy, trials, unit
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
