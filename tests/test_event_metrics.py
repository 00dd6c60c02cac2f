"""Detection metrics against hand-computed cases."""

import numpy as np
import pytest

from earmark.data.labels import Event
from earmark.evaluation.events import event_based, segment_based

REF = [Event(1.0, 3.0, "dog"), Event(5.0, 6.0, "dog"), Event(2.0, 4.0, "rain")]


def test_perfect_estimate():
    assert event_based(REF, REF)["f1"] == 1.0
    assert segment_based(REF, REF, duration_s=8.0)["f1"] == 1.0


def test_event_collars_hand_computed():
    est = [
        Event(1.15, 3.9, "dog"),   # onset off by 0.15 <= 0.2, offset off by 0.9 <= 0.5 * 2.0 = 1.0: correct
        Event(5.5, 6.0, "dog"),    # onset off by 0.5: wrong
        Event(2.0, 4.0, "bird"),   # wrong label
    ]
    r = event_based(REF, est)
    # tp = 1; fp = 2 (dog at 5.5, bird); fn = 2 (dog at 5.0, rain)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 2, 2)
    assert r["f1"] == pytest.approx(2 / (2 + 2 + 2))
    assert r["per_class_f1"]["dog"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))


def test_one_to_one_matching():
    ref = [Event(0.0, 1.0, "a"), Event(0.1, 1.0, "a")]
    est = [Event(0.05, 1.0, "a")]  # could match either, but only once
    r = event_based(ref, est)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 0, 1)


def test_segments_hand_computed():
    ref = [Event(0.5, 2.5, "dog")]  # segments 0, 1, 2 active
    est = [Event(2.2, 4.0, "dog")]  # segments 2, 3 active
    r = segment_based(ref, est, duration_s=5.0, segment_s=1.0)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 2)
    assert r["f1"] == pytest.approx(2 / 5)


def _sed_eval(reference, estimated, labels, duration_s):
    """DCASE's reference implementation (sed_eval 0.2.1) on the same events: event- and segment-based overall metrics."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dcase_util
        import sed_eval

    def container(events):
        return dcase_util.containers.MetaDataContainer(
            [{"filename": "rec.wav", "event_label": e.label, "onset": e.start_s, "offset": e.end_s} for e in events])

    ev = sed_eval.sound_event.EventBasedMetrics(event_label_list=labels, t_collar=0.2, percentage_of_length=0.5)
    ev.evaluate(reference_event_list=container(reference), estimated_event_list=container(estimated))
    seg = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=labels, time_resolution=1.0)
    seg.evaluate(reference_event_list=container(reference), estimated_event_list=container(estimated),
                 evaluated_length_seconds=duration_s)
    return ev, seg


@pytest.mark.parametrize("seed", range(12))
def test_equal_to_sed_eval_on_random_events(seed):
    """Issue 26: the hand-written metrics give DCASE's sed_eval figures (event F1 with 200-ms collars and segment F1 over
    1-s segments, micro and per class) on random event lists; kept because they need no dcase_util (which needs
    setuptools' pkg_resources to import) and are about 85x faster (1,000 against 1,000 events over an hour: 30 ms
    against 2.6 s, benchmarks/RESULTS.md)."""
    rng = np.random.default_rng(seed)
    labels = ["dog", "rain", "rooster"]

    def events(n):
        out = []
        for _ in range(n):
            start = float(np.round(rng.uniform(0, 55), 2))
            out.append(Event(start, float(np.round(start + rng.uniform(0.1, 4.0), 2)), str(rng.choice(labels))))
        return out

    reference = events(int(rng.integers(3, 15)))
    # estimates: jittered copies of most references (some within the collars, some not) and some false alarms
    estimated = [Event(float(np.round(r.start_s + rng.normal(0, 0.2), 2)), float(np.round(r.end_s + rng.normal(0, 0.4), 2)),
                       r.label if rng.random() < 0.85 else str(rng.choice(labels)))
                 for r in reference if rng.random() < 0.8] + events(int(rng.integers(0, 5)))
    estimated = [e for e in estimated if e.end_s > e.start_s >= 0]
    ours_e = event_based(reference, estimated)
    ours_s = segment_based(reference, estimated, duration_s=60.0)
    ev, seg = _sed_eval(reference, estimated, labels, 60.0)
    theirs = ev.results_overall_metrics()["f_measure"]
    assert ours_e["f1"] == pytest.approx(theirs["f_measure"], abs=1e-9)
    assert ours_e["precision"] == pytest.approx(theirs["precision"], abs=1e-9)
    assert ours_e["recall"] == pytest.approx(theirs["recall"], abs=1e-9)
    by_class = ev.results_class_wise_metrics()
    for label in labels:
        if label in ours_e["per_class_f1"] and not np.isnan(by_class[label]["f_measure"]["f_measure"]):
            assert ours_e["per_class_f1"][label] == pytest.approx(by_class[label]["f_measure"]["f_measure"], abs=1e-9)
    theirs = seg.results_overall_metrics()["f_measure"]
    assert ours_s["f1"] == pytest.approx(theirs["f_measure"], abs=1e-9)
    assert ours_s["precision"] == pytest.approx(theirs["precision"], abs=1e-9)
