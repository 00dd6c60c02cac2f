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
    r = cross_validate("knn", clips, labels, cv=5)
    assert r["accuracy_mean"] == 1.0 and r["accuracy_std"] == 0.0 and len(r["folds"]) == 5
    assert r["confusion_matrix"] == [[10, 0], [0, 10]]
    assert r["per_class"]["lo"]["recall"] == 1.0


def test_cv_larger_than_class_is_rejected():
    with pytest.raises(ParameterError, match="'cv' parameter"):
        splits(np.array(list("aab")), cv=2)


def test_nested_draws_come_from_training_folds_only(rng):
    from earmark.evaluation.fewshot import nested_draws

    labels = np.repeat(["a", "b", "c"], 10)
    train = np.flatnonzero(np.arange(30) % 10 < 7)  # 7 training clips per class
    draws = nested_draws(labels, train, [1, 2, 4, 8], rng)
    for n, idx in draws.items():
        assert set(idx) <= set(train)
        counts = np.unique(labels[idx], return_counts=True)[1]
        assert counts.tolist() == [min(n, 7)] * 3
    assert set(draws[1]) <= set(draws[2]) <= set(draws[4]) <= set(draws[8])


def test_summary_mean_and_t_interval_known_answer():
    from earmark.evaluation.fewshot import summarise

    # two folds per repeat; repeat means 0.5, 0.6, 0.7
    runs = [{"embedder": "e", "classifier": "c", "n": 1, "repeat": r, "accuracy": a}
            for r, pair in enumerate([(0.4, 0.6), (0.6, 0.6), (0.8, 0.6)]) for a in pair]
    (row,) = summarise(runs)
    assert row["accuracy_mean"] == pytest.approx(0.6)
    half = 4.302652729911275 * 0.1 / np.sqrt(3)  # t(0.975, df=2) * sd / sqrt(n)
    assert row["ci95_low"] == pytest.approx(0.6 - half) and row["ci95_high"] == pytest.approx(0.6 + half)
    assert row["n_repeats"] == 3 and row["n_runs"] == 6


def test_learning_curve_pairs_every_combination(rng):
    from earmark.evaluation.fewshot import learning_curve

    labels = np.repeat(["lo", "hi"], 12)
    good = [np.full((1, 2), -3.0 if c == "lo" else 3.0) + rng.normal(0, 0.3, (1, 2)) for c in labels]
    noise = [rng.normal(0, 1, (1, 2)) for _ in labels]
    from earmark.api import Candidate
    from earmark.models import get_model

    cands = [Candidate(e, m, get_model(m)) for e in ("good", "noise") for m in ("knn", "logreg")]
    r = learning_curve({"good": good, "noise": noise}, labels, cands, shots=[1, 4], repeats=3, cv=3)
    assert len(r["runs"]) == 3 * 3 * 2 * 2 * 2
    by = {(s["embedder"], s["classifier"], s["n"]): s["accuracy_mean"] for s in r["summary"]}
    assert by[("good", "logreg", 4)] == 1.0 and by[("noise", "knn", 4)] < 0.8
    assert r["chance"] == 0.5 and [s["embedder"] for s in r["summary"]][0] == "good"


def test_one_repeat_has_no_interval_and_says_so():
    from earmark.evaluation.fewshot import mean_ci_text, summarise

    (row,) = summarise([{"embedder": "e", "classifier": "c", "n": 4, "repeat": 0, "accuracy": 0.8}])
    assert mean_ci_text(row) == "0.800 (1 repeat)"
    (row,) = summarise([{"embedder": "e", "classifier": "c", "n": 4, "repeat": r, "accuracy": a} for r, a in enumerate((0.7, 0.9))])
    assert mean_ci_text(row, 2) == f"0.80 [{row['ci95_low']:.2f}, {row['ci95_high']:.2f}]" and row["ci95_low"] < 0.7


def test_tag_metrics_against_hand_computed_values():
    from earmark.evaluation.cv import tag_metrics

    truth = np.array([[1, 0], [0, 0], [1, 1], [0, 0]])
    proba = np.array([[0.9, 0.2], [0.8, 0.1], [0.7, 0.6], [0.1, 0.3]])
    decided = (proba >= 0.5).astype(int)
    m = tag_metrics(truth, proba, decided, ["a", "b"])
    # tag a: positives 0.9, 0.7 against negatives 0.8, 0.1 -> 3 of 4 pairs ordered: AUC 0.75;
    # ranked .9+ .8- .7+ .1-: precision 1 at the first hit, 2/3 at the second -> AP 5/6; decided 1,1,1,0 -> F1 = 2*2/(3+2)
    assert m["per_tag"]["a"] == {"roc_auc": 0.75, "average_precision": pytest.approx(5 / 6), "f1": pytest.approx(0.8), "support": 2}
    # tag b: its one positive scores highest -> AUC 1, AP 1; decided only there -> F1 1
    assert m["per_tag"]["b"]["roc_auc"] == 1.0 and m["per_tag"]["b"]["average_precision"] == 1.0 and m["per_tag"]["b"]["f1"] == 1.0
    assert m["mAP"] == pytest.approx((5 / 6 + 1) / 2) and m["macro_auc"] == pytest.approx(0.875)
    none = tag_metrics(np.zeros((3, 1)), np.full((3, 1), 0.2), np.zeros((3, 1)), ["c"])
    assert none["per_tag"]["c"]["roc_auc"] is None and none["per_tag"]["c"]["average_precision"] is None and np.isnan(none["mAP"])


def test_cross_validation_of_tag_sets_reports_map_and_per_tag_auc(rng):
    from earmark.evaluation.cv import cross_validate

    from tests.conftest import tagged_clips

    clips, labels = tagged_clips(rng, 60, windows=3)
    result = cross_validate("logreg", clips, labels, cv=3)
    assert result["tags"] == ["bird", "car"] and len(result["folds"]) == 3
    assert result["mAP_mean"] > 0.95 and all(f["mAP"] > 0.9 for f in result["folds"])
    assert all(result["per_tag"][t]["roc_auc"] > 0.95 and result["per_tag"][t]["f1"] > 0.85 for t in ("bird", "car"))
    assert result["per_tag"]["bird"]["support"] == 30 and result["per_tag"]["car"]["support"] == 20
    assert result["accuracy_mean"] > 0.8  # every tag of a clip right


def test_reliability_bins_and_ece_against_hand_computed_values():
    from earmark.evaluation.openset import reliability

    conf = np.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    correct = np.array([1, 1, 1, 0, 1, 0], bool)
    r = reliability(conf, correct, bins=10)
    assert [(b["low"], b["n"]) for b in r["bins"]] == [(pytest.approx(0.5), 2), (pytest.approx(0.9), 4)]
    # 4/6 * |0.75 - 0.95| + 2/6 * |0.5 - 0.55|
    assert r["ece"] == pytest.approx(4 / 6 * 0.2 + 2 / 6 * 0.05)


def test_open_set_metrics_against_hand_computed_values():
    from earmark.evaluation.openset import open_set_metrics

    known = np.array([0.9, 0.8, 0.7, 0.3])
    unknown = np.array([0.1, 0.2, 0.4, 0.75] + [0.0] * 16)  # 20 unknowns: the 5% cut is the highest, 0.75
    correct = np.array([True, False, True, True])
    m = open_set_metrics(known, unknown, correct, threshold=0.5)
    # pairs (known > unknown): 0.9, 0.8 beat all 20; 0.7 beats 19; 0.3 beats 18 -> 77 / 80
    assert m["auroc"] == pytest.approx(77 / 80)
    assert m["known_accepted"] == pytest.approx(2 / 4) and m["ccr"] == pytest.approx(1 / 4)  # 0.9 right, 0.8 wrong
    assert m["at_threshold"] == {"known_accepted": 0.75, "unknown_accepted": 0.05, "ccr": 0.5}  # 0.75 of 20


def test_open_set_cross_validation_holds_unknown_classes_out_of_training(rng):
    labels = np.repeat(["a", "b", "c"], 20)
    centre = {"a": -3.0, "b": 3.0, "c": 0.0}
    clips = [np.array([[centre[y], 10.0 * (y == "c")]]) + rng.normal(scale=0.3, size=(1, 2)) for y in labels]
    far = [np.array([[0.0, -40.0]])] * 3
    from earmark.models import get_model

    r = cross_validate(get_model("logreg", reject="distance"), clips, labels, cv=5, unknown=["c"], unknown_clips=far)
    o = r["open_set"]
    assert r["classes"] == ["a", "b"] and all(f["n_train"] == 32 for f in r["folds"])  # 40 known clips, 4/5 of them
    assert o["n_known"] == 40 and o["n_unknown"] == 20 + 5 * 3 and o["score"] == "distance"
    assert o["auroc"] == pytest.approx(1.0) and o["at_threshold"]["unknown_accepted"] == 0.0
    assert "ece" in r["folds"][0] and 0 <= r["calibration"]["ece"] <= 1
    with pytest.raises(ParameterError, match="not in the data"):
        cross_validate("logreg", clips, labels, cv=5, unknown=["zebra"])


def test_learning_curve_on_tag_sets_draws_per_tag_and_reports_map(rng):
    from earmark.api.training import Candidate
    from earmark.evaluation.fewshot import learning_curve, nested_draws
    from earmark.models import get_model

    from tests.conftest import tagged_clips

    clips, labels = tagged_clips(rng, 60, windows=2)
    draws = nested_draws(labels, np.arange(60), [2], np.random.default_rng(0))[2]
    drawn = [set(str(labels[i]).split(";")) - {""} for i in draws]
    assert sum("bird" in d for d in drawn) >= 2 and sum("car" in d for d in drawn) >= 2 and sum(not d for d in drawn) >= 2
    assert len(draws) <= 6  # two per tag and two with none; a clip with both tags counts for both

    curve = learning_curve({"x": clips}, labels, [Candidate("x", "logreg", get_model("logreg"))], shots=(2, 8), repeats=2, cv=3)
    assert curve["metric"] == "mAP"
    assert curve["chance"] == pytest.approx((30 / 60 + 20 / 60) / 2)  # mean tag prevalence
    small, large = curve["summary"]
    assert small["n"] == 2 and large["n"] == 8 and large["mAP_mean"] > 0.9 and "mAP_ci95_low" in large
    assert all("mAP" in r and "accuracy" in r for r in curve["runs"])


def test_comparison_of_tag_sets_ranks_by_map(rng):
    from earmark.api.training import Candidate
    from earmark.evaluation.compare import compare
    from earmark.models import get_model

    from tests.conftest import tagged_clips

    clips, labels = tagged_clips(rng, 60, windows=2)
    noise = [rng.normal(size=c.shape).astype(np.float32) for c in clips]  # a front end that hears nothing of the tags
    cands = [Candidate("noise", "logreg", get_model("logreg")), Candidate("x", "logreg", get_model("logreg"))]
    comp = compare({"x": clips, "noise": noise}, labels, cands, dims={"x": 6, "noise": 6}, cv=3)
    assert comp["metric"] == "mAP" and comp["best"] == 1
    assert comp["rows"][1]["mAP_mean"] > 0.9 > comp["rows"][0]["mAP_mean"]
    assert set(comp["rows"][1]["f1_per_class"]) == {"bird", "car"}  # per tag, not per tag combination


def test_the_library_refuses_fold_options_it_would_ignore_as_the_cli_does(tmp_path):
    """Issue 27: these checks lived only in the CLI, so earmark.api.train(cv=3, folds="fold") silently ignored folds."""
    from conftest import DEMO
    from earmark import api
    from earmark.console import as_option
    from earmark.errors import ParameterError

    with pytest.raises(ParameterError, match="'cv' parameter \\(3\\) draws its own test folds and would ignore the 'folds'") as e:
        api.train(DEMO / "train", embedder="mfcc", cv=3, folds="fold")
    assert as_option(str(e.value)).startswith("The '--cv' option (3) draws its own test folds and would ignore the '--folds' option")
    with pytest.raises(ParameterError, match="'train_folds' parameter names values of a fold column"):
        api.train(DEMO / "train", embedder="mfcc", train_folds=["1"])
    with pytest.raises(ParameterError, match="'exclude_folds' parameter"):
        api.train(DEMO / "train", embedder="mfcc", exclude_folds=["1"])
    for run in (api.evaluate, api.curve, api.compare):
        with pytest.raises(ParameterError, match="would ignore the 'folds'"):
            run(DEMO / "train", folds="fold", cv=4)
