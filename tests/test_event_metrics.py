"""Detection metrics against hand-computed cases."""

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

