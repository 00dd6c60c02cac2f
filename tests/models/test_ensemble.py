"""The ensemble model: its combination on known inputs, held-out scores the stacker learns from, members on their own
front ends, save and load, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from earmark.errors import ParameterError
from earmark.models import ClipModel, Tensors, get_model, register_model, unregister_model
from earmark.models.ensemble import EnsembleClassifier, best_weights, ensemble_front_end, parse_members, stack_features


def _clips(rng, n_per_class=12, classes=("a", "b", "c"), width=6, windows=3, signal=1.5):
    X, y = [], []
    for k, c in enumerate(classes):
        for _ in range(n_per_class):
            X.append(rng.normal(size=(windows, width)) + signal * (np.arange(width) % len(classes) == k))
            y.append(c)
    return X, np.array(y)


def test_mean_is_the_members_average_fitted_alone(rng):
    X, y = _clips(rng)
    ens = EnsembleClassifier("logreg, knn[aggregation=max]", combine="mean").fit(X, y)
    alone = [get_model("logreg").fit(X, y), get_model("knn", aggregation="max").fit(X, y)]
    expected = np.mean([m.predict_proba(X) for m in alone], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X), expected)
    np.testing.assert_allclose(ens.window_proba(X[0]), np.mean([m.window_proba(X[0]) for m in alone], axis=0))
    assert list(ens.classes_) == ["a", "b", "c"]


def test_weighted_and_stacked_apply_their_fitted_combiner(rng):
    X, y = _clips(rng)
    weighted = EnsembleClassifier("logreg, knn", combine="weighted").fit(X, y)
    w = weighted.combiner_["weights"]
    assert w.shape == (2,) and np.isclose(w.sum(), 1) and (w >= 0).all()
    members = [m.predict_proba(X) for m in weighted.members_]
    np.testing.assert_allclose(weighted.predict_proba(X), w[0] * members[0] + w[1] * members[1])

    stacked = EnsembleClassifier("logreg, knn", combine="stack", C=0.5).fit(X, y)
    members = [m.predict_proba(X) for m in stacked.members_]
    lr = LogisticRegression(C=0.5)
    lr.classes_, lr.coef_, lr.intercept_ = np.arange(3), stacked.combiner_["coef"], stacked.combiner_["intercept"]
    np.testing.assert_allclose(stacked.predict_proba(X), lr.predict_proba(stack_features(members)), rtol=1e-6)


def test_weights_favour_the_member_that_is_right_on_held_out_clips():
    y = np.array([0, 1, 2] * 20)
    good = np.eye(3)[y] * 0.8 + 0.2 / 3
    noise = np.full((60, 3), 1 / 3)
    w = best_weights([noise, good], y)
    assert w[1] > 0.9


class Recorder(ClipModel):
    """Remembers which clips it was fitted on and which it scored (by their first value), to check the folds."""

    log: list = []

    def __init__(self, *, aggregation: str = "mean") -> None:
        self.aggregation = aggregation

    def _fit(self, clips, y) -> None:
        self.seen_ = {float(c[0, 0]) for c in clips}
        self.prior_ = np.bincount(y, minlength=len(self.classes_)) / len(y)

    def _clip_proba(self, clips):
        Recorder.log.append((self.seen_, {float(c[0, 0]) for c in clips}))
        return super()._clip_proba(clips)

    def _window_proba(self, windows):
        return np.tile(self.prior_, (len(windows), 1))

    def _parts(self):
        return {"prior": Tensors(prior=self.prior_)}

    def _restore(self, parts):
        self.prior_ = parts["prior"]["prior"]


@pytest.fixture
def recorder():
    register_model("recorder", Recorder, kind="embedding head")
    Recorder.log = []
    yield
    unregister_model("recorder")


def test_the_stacker_never_sees_a_clip_scored_by_a_member_that_was_fitted_on_it(rng, recorder):
    X, y = _clips(rng, n_per_class=10)
    for i, c in enumerate(X):
        c[0, 0] = 1000 + i  # each clip told apart by its first value
    ens = EnsembleClassifier("recorder, logreg", combine="stack", folds=5)
    ens._layout_ = None
    held = ens.held_out_proba(X, np.repeat(np.arange(3), 10))
    assert len(Recorder.log) == 5 and all(not (seen & scored) for seen, scored in Recorder.log)
    assert sorted(v for _, scored in Recorder.log for v in scored) == [1000.0 + i for i in range(30)]  # every clip once
    assert all(h.shape == (30, 3) for h in held)


def test_held_out_scores_of_a_memoriser_are_at_chance_on_labels_without_signal(rng):
    # 1-NN is 100% right on the clips it was fitted on; held out, on random labels, it is at chance
    X = [rng.normal(size=(1, 8)) for _ in range(90)]
    y = rng.permutation(np.repeat(np.arange(3), 30))
    ens = EnsembleClassifier("knn, logreg", combine="stack")
    ens._layout_ = None
    held = ens.held_out_proba(X, y)
    assert (get_model("knn").fit(X, y).predict_proba(X).argmax(1) == y).mean() == 1.0
    assert (held[0].argmax(1) == y).mean() < 0.55


def test_members_read_their_own_front_ends_part_of_a_fused_window(rng):
    assert ensemble_front_end({"members": "logreg@mfcc, svm@speaker, logreg[aggregation=max]@mfcc"}) == "mfcc+speaker"
    width = 40 + 256
    X = [rng.normal(size=(2, width)) for _ in range(30)]
    y = np.array(["a", "b", "c"] * 10)
    ens = EnsembleClassifier("logreg@mfcc, logreg@speaker").fit(X, y)
    mfcc_alone = get_model("logreg").fit([c[:, :40] for c in X], y)
    speaker_alone = get_model("logreg").fit([c[:, 40:] for c in X], y)
    np.testing.assert_allclose(ens.members_[0].predict_proba([c[:, :40] for c in X]), mfcc_alone.predict_proba([c[:, :40] for c in X]))
    np.testing.assert_allclose(ens.predict_proba(X), (mfcc_alone.predict_proba([c[:, :40] for c in X])
                                                      + speaker_alone.predict_proba([c[:, 40:] for c in X])) / 2)
    with pytest.raises(ParameterError, match="features per window"):
        ens.predict_proba([c[:, :100] for c in X])


def test_members_are_checked_before_any_work():
    with pytest.raises(ParameterError, match="Ensemble member 'logrg': .* Did you mean 'logreg'"):
        parse_members("logrg, svm")
    with pytest.raises(ParameterError, match="cannot hold another"):
        parse_members("logreg, ensemble")
    with pytest.raises(ParameterError, match="always runs on aisfx-mel"):
        parse_members("finetune:aisfx@mfcc, logreg")
    with pytest.raises(ParameterError, match=r"options go before it: logreg\[C=1\]@mfcc"):
        parse_members("logreg@mfcc[C=1], svm")
    with pytest.raises(ParameterError, match="at least 2"):
        EnsembleClassifier("logreg").check_params()
    with pytest.raises(ParameterError, match="'combine' parameter"):
        EnsembleClassifier(combine="vote").check_params()
    with pytest.raises(ParameterError, match="scores windows in sequence"):
        EnsembleClassifier("logreg@mfcc-frames, lstm-tagger").check_params()
    with pytest.raises(ParameterError, match="single-label"):
        EnsembleClassifier().check_labels(["a;b", "b"])
    assert parse_members("sbcnn[max_epochs=3; augment=pitch,gain], logreg@speech") == [
        ("sbcnn[max_epochs=3; augment=pitch,gain]", "sbcnn", "logmel"), ("logreg", "logreg", "speech")]


def test_stacking_needs_two_clips_of_every_class(rng):
    X, y = _clips(rng, n_per_class=1)
    with pytest.raises(ParameterError, match="at least 2 training clips of every class"):
        EnsembleClassifier(combine="stack").fit(X, y)
    assert clone(EnsembleClassifier(combine="mean")).fit(X, y).predict(X).shape == (3,)


def test_a_network_and_a_head_on_two_front_ends_train_save_and_load_as_one_model(demo_subset, cache_dir, tmp_path):
    from earmark.api import compare, load_model, train

    spec = "ensemble[members=logreg@mfcc, sbcnn[max_epochs=1; batch_size=8]; combine=weighted]"
    model = train(demo_subset, model=spec, cache_dir=cache_dir)
    assert model.front_end.name == "mfcc+logmel" and model.name == "ensemble"
    assert model.front_end.feature_shape == (40 + 128 * 128,)
    back = load_model(model.save(tmp_path / "e.earmark"))
    files = sorted(demo_subset.rglob("*.flac"))[:3]
    np.testing.assert_allclose(back.predict_proba(files), model.predict_proba(files), rtol=1e-5)
    assert back.predict(files[0])[0].labels == model.predict(files[0])[0].labels
    scores = back.window_scores(files[0])
    assert scores.scores.shape[1] == 3 and np.allclose(scores.scores.sum(1)[~scores.gated], 1)


def test_compare_puts_the_ensemble_beside_its_members_and_reuses_their_fits_only_where_that_is_exact(demo_subset, cache_dir):
    from earmark.api import compare, evaluate

    spec = "ensemble[members=logreg@mfcc, knn[aggregation=max]@mfcc]"
    result = compare(demo_subset, models=[spec], cv=3, cache_dir=cache_dir)
    assert [(r["embedder"], r["classifier"]) for r in result["rows"]] == [
        ("mfcc", "logreg"), ("mfcc", "knn[aggregation=max]"), ("mfcc", spec)]
    reused = result["results"][f"mfcc / {spec}"]
    alone = evaluate(demo_subset, model=spec, cv=3, cache_dir=cache_dir)  # fitted fold by fold
    assert reused["reused_member_fits"] and [f["accuracy"] for f in reused["folds"]] == [f["accuracy"] for f in alone["folds"]]
    assert reused["folds"][0]["fit_seconds"] == pytest.approx(sum(result["results"][f"mfcc / {m}"]["folds"][0]["fit_seconds"]
                                                                    for m in ("logreg", "knn[aggregation=max]")))
    # members on other windows than their own (mfcc's grid is not logmel's), or a learned combiner: fitted afresh
    for other in ("ensemble[members=logreg@mfcc, sbcnn[max_epochs=1; batch_size=8]]", "ensemble[members=logreg@mfcc, knn@mfcc; combine=stack]"):
        result = compare(demo_subset, models=[other], cv=3, cache_dir=cache_dir)
        assert "reused_member_fits" not in result["results"][f"{result['rows'][-1]['embedder']} / {other}"]
