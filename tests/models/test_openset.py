"""Calibration and "none of these": known-answer calibrators, thresholds, and rejection end to end on real clips."""

import numpy as np
import pytest
import soundfile as sf

from earmark import api
from earmark.errors import ParameterError
from earmark.models import get_model
from earmark.models import openset
from earmark.pipeline import Model
from tests.conftest import make_demo_subset


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(rng):
    z = rng.normal(scale=3.0, size=(20000, 4))
    labels = np.array([rng.choice(4, p=p) for p in _softmax(z / 2.0)])  # the truth is twice as uncertain as softmax(z)
    t = openset.fit_temperature(_softmax(z), labels, multilabel=False)
    assert t == pytest.approx(2.0, rel=0.05)


def test_fit_temperature_for_tags_divides_the_logits(rng):
    z = rng.normal(scale=3.0, size=(20000, 2))
    truth = (rng.random(z.shape) < 1 / (1 + np.exp(-z / 0.5))).astype(float)  # sharper than sigmoid(z)
    t = openset.fit_temperature(1 / (1 + np.exp(-z)), truth, multilabel=True)
    assert t == pytest.approx(0.5, rel=0.05)


def test_isotonic_maps_probabilities_to_observed_frequencies(rng):
    p = rng.random(20000)
    truth = (rng.random(20000) < p**2).astype(float)  # the score overstates: the true rate is p squared
    knots = openset.fit_isotonic(p[:, None], truth[:, None])
    mapped = openset.apply_isotonic(np.array([[0.3], [0.6], [0.9]]), knots, multilabel=True)[:, 0]
    assert mapped == pytest.approx([0.09, 0.36, 0.81], abs=0.05)


def test_isotonic_rows_sum_to_one_for_single_label_models():
    knots = [(np.array([0.0, 1.0]), np.array([0.0, 0.5])), (np.array([0.0, 1.0]), np.array([0.0, 1.0]))]
    out = openset.apply_isotonic(np.array([[0.8, 0.2], [0.0, 0.0]]), knots, multilabel=False)
    assert out[0] == pytest.approx([0.4 / 0.6, 0.2 / 0.6])
    assert out[1] == pytest.approx([0.5, 0.5])  # no evidence for any class: uniform, never NaN


def test_choose_threshold_without_negatives_rejects_the_asked_share():
    known = np.arange(100, dtype=float)
    assert openset.choose_threshold(known, None, 0.05) == pytest.approx(4.95)


def test_choose_threshold_with_negatives_separates_them():
    known, negatives = np.array([5.0, 6.0, 7.0, 8.0]), np.array([1.0, 2.0, 3.0, 5.5])
    t = openset.choose_threshold(known, negatives, 0.05)
    assert t == 5.0  # accepts every known clip and rejects 3 of 4 negatives: the best J (1 - 0.25)


def test_distance_score_is_minus_the_rms_distance_to_the_nearest_training_clip():
    bank = openset.fit_bank(np.array([[0.0, 0.0], [2.0, 2.0]]))  # mean (1, 1), std (1, 1)
    assert openset.similarity(bank, np.array([[1.0, 1.0]]))[0] == pytest.approx(-1.0)
    assert openset.leave_one_out_similarity(bank) == pytest.approx([-2.0, -2.0])


def _two_gaussians(rng, n=400):
    y = np.array(["a", "b"])[np.arange(n) % 2]
    x = np.where(y == "a", -1.0, 1.0) + rng.normal(size=n)
    return x[:, None], y


@pytest.mark.parametrize("calibration", ["temperature", "isotonic"])
def test_a_calibrated_model_gives_the_bayes_posterior_of_two_gaussians(rng, calibration):
    x, y = _two_gaussians(rng, 2000)
    model = get_model("logreg", calibration=calibration).fit(x, y)
    grid = np.array([[-1.0], [0.0], [0.5], [1.0]])
    posterior_b = 1 / (1 + np.exp(-2 * grid[:, 0]))  # N(1, 1) against N(-1, 1), equal priors
    assert model.predict_proba(grid)[:, 1] == pytest.approx(posterior_b, abs=0.06)
    assert model.predict_proba(grid).sum(axis=1) == pytest.approx(1.0)


def test_temperature_softens_an_overfitted_model(rng):
    x, y = _two_gaussians(rng, 80)
    x = np.hstack([x, rng.normal(size=(80, 40))])  # 40 useless dimensions to overfit on
    params = {"classifier_params": {"C": 1e4}}
    raw = get_model("logreg", **params).fit(x, y)
    cal = get_model("logreg", calibration="temperature", **params).fit(x, y)
    assert float(cal.calibrator_["temperature"][0]) > 1.5  # held-out scores were over-confident
    probe = np.hstack([[[0.3]], rng.normal(size=(1, 40))])
    assert abs(cal.predict_proba(probe)[0, 1] - 0.5) < abs(raw.predict_proba(probe)[0, 1] - 0.5)


def test_calibration_needs_two_clips_per_class():
    x = np.array([[0.0], [1.0], [2.0]])
    with pytest.raises(ParameterError, match="at least 2 training clips of every class"):
        get_model("logreg", calibration="temperature").fit(x, ["a", "a", "b"])


def test_bad_open_set_parameters_are_refused_before_fitting():
    with pytest.raises(ParameterError, match="'calibration' parameter"):
        get_model("logreg", calibration="platt").check_params()
    with pytest.raises(ParameterError, match="'reject_rate' parameter"):
        get_model("logreg", reject="proba", reject_rate=0.7).check_params()


def test_a_tagger_refuses_probability_rejection(rng):
    x = rng.normal(size=(20, 3))
    with pytest.raises(ParameterError, match="tagger already answers"):
        get_model("logreg", reject="proba").fit(x, ["a;b", ""] * 10)


@pytest.mark.parametrize("reject, calibration", [("proba", "isotonic"), ("distance", "temperature")])
def test_open_set_state_survives_the_parts_round_trip(rng, reject, calibration):
    x, y = _two_gaussians(rng, 60)
    model = get_model("logreg", reject=reject, calibration=calibration).fit(x, y)
    again = get_model("logreg", reject=reject, calibration=calibration).restore_parts(model.fitted_parts())
    probe = np.array([[-3.0], [0.2], [9.0]])
    assert again.predict_proba(probe) == pytest.approx(model.predict_proba(probe))
    assert again.reject_threshold_ == model.reject_threshold_
    assert again.known_scores(probe) == pytest.approx(model.known_scores(probe))


def test_far_away_clips_score_below_the_distance_threshold(rng):
    x, y = _two_gaussians(rng, 200)
    model = get_model("logreg", reject="distance").fit(x, y)
    scores = model.known_scores(np.array([[0.0], [40.0], [-40.0]]))
    assert scores[0] >= model.reject_threshold_ > max(scores[1], scores[2])


@pytest.fixture(scope="module")
def open_set_model(tmp_path_factory):
    """logreg with rejection on the bundled real demo clips of five classes none of which sounds like noise."""
    tmp = tmp_path_factory.mktemp("openset")
    data = make_demo_subset(tmp / "demo", per_class=8, classes=("dog", "rooster", "crying_baby", "clock_tick", "sneezing"))
    model = api.train(data, model="logreg", model_params={"reject": "distance"}, cache_dir=tmp / "cache")
    path = model.save(tmp / "m.earmark")
    sr = 22050
    sf.write(tmp / "silence.wav", np.zeros(5 * sr, np.float32), sr)
    sf.write(tmp / "white.wav", (0.3 * np.random.default_rng(0).standard_normal(5 * sr)).astype(np.float32), sr)
    sf.write(tmp / "quiet.wav", (0.01 * np.random.default_rng(1).standard_normal(5 * sr)).astype(np.float32), sr)
    sf.write(tmp / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * np.arange(5 * sr) / sr)).astype(np.float32), sr)
    return Model.load(path), tmp


def test_digital_silence_and_white_noise_come_out_unknown(open_set_model):
    model, tmp = open_set_model
    silence, white = model.predict([tmp / "silence.wav", tmp / "white.wav"])
    assert silence.label == "unknown" and silence.silent
    assert white.label == "unknown" and white.known_score < model.estimator.reject_threshold_
    assert white.labels  # the closest classes are still given


def test_noise_and_tones_are_unknown_when_no_class_is_noise_like(open_set_model):
    """The guarantee the open-set docs state (issue 25, item 13): with none of the classes noise-like, white noise,
    quiet noise and a steady tone are all 'unknown' (with rain among the classes, noise is rain: documented)."""
    model, tmp = open_set_model
    answers = model.predict([tmp / "white.wav", tmp / "quiet.wav", tmp / "tone.wav"])
    assert [a.label for a in answers] == ["unknown"] * 3


def test_a_known_sound_is_still_recognised_by_the_rejecting_model(open_set_model):
    from tests.conftest import DEMO

    model, _ = open_set_model
    (dog,) = model.predict(DEMO / "unseen" / "2-114280-A-0.flac")  # a dog clip from fold 2, not in training
    assert dog.label == "dog" and not dog.unknown


def test_unknown_windows_score_zero_in_detection(open_set_model):
    model, tmp = open_set_model
    ws = model.window_scores(tmp / "white.wav")
    assert ws.unknown.all() and not ws.scores.any()


def test_a_network_calibrates_and_rejects_like_any_model(rng):
    """The open-set options are the base class's: a network takes them unchanged, and its state survives saving."""
    y = np.repeat(np.arange(2), 10)
    X = rng.normal(0, 1, (20, 1, 16, 12)).astype(np.float32)
    X[y == 1, 0, 4:8] += 4.0
    labels = np.array(["a", "b"])[y]
    params = {"max_epochs": 3, "validation_fraction": 0.0, "calibration": "temperature", "reject": "proba"}
    net = get_model("timbre", **params).fit(list(X), labels)
    assert net.rejects and 0 < net.reject_threshold_ <= 1 and float(net.calibrator_["temperature"][0]) > 0
    again = get_model("timbre", **params).restore_parts(net.fitted_parts())
    assert again.predict_proba(list(X)) == pytest.approx(net.predict_proba(list(X)))
    assert again.known_scores(list(X)) == pytest.approx(net.known_scores(list(X)))
