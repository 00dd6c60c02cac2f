import numpy as np
import pytest

from earmark.errors import ParameterError
from earmark.inference.detect import DetectionSettings, _hysteresis, detect_events


def test_hysteresis_known_answer():
    x = np.array([0.1, 0.4, 0.9, 0.5, 0.45, 0.2, 0.8, 0.9, 0.3])
    assert _hysteresis(x, 0.7, 0.35) == [(1, 5), (6, 8)]


def test_events_from_scores_with_merge_and_min_duration():
    hop = 0.5
    centres = np.arange(20) * hop + 0.5
    scores = np.zeros((20, 2))
    scores[2:6, 0] = 0.9      # dog, windows 2-5
    scores[9:11, 0] = 0.8     # dog again, 1 s after the first ends
    scores[14, 1] = 0.95      # a single rain window
    s = DetectionSettings(threshold=0.5, median_windows=1, merge_gap_s=0.0)
    events = detect_events(scores, centres, ["dog", "rain"], window_s=1.0, hop_s=hop, duration_s=10.5, settings=s)
    # an active window stands for its centre ± hop / 2
    assert [(e.label, e.start_s, e.end_s) for e in events] == [("dog", 1.25, 3.25), ("dog", 4.75, 5.75), ("rain", 7.25, 7.75)]
    merged = detect_events(scores, centres, ["dog", "rain"], window_s=1.0, hop_s=hop, duration_s=10.5,
                           settings=DetectionSettings(median_windows=1, merge_gap_s=1.5, min_duration_s=1.5))
    assert [(e.label, e.start_s, e.end_s, e.score) for e in merged] == [("dog", 1.25, 5.75, 0.9)]
    assert merged[0].mean_score == pytest.approx((4 * 0.9 + 2 * 0.8) / 6)  # over all six merged windows


def test_median_filter_removes_a_one_window_blip():
    scores = np.zeros((9, 1))
    scores[4, 0] = 1.0
    events = detect_events(scores, np.arange(9.0), ["x"], window_s=1.0, hop_s=1.0, duration_s=9.0,
                           settings=DetectionSettings(median_windows=3))
    assert events == []


def test_bad_settings_are_rejected():
    with pytest.raises(ParameterError, match="threshold"):
        DetectionSettings(threshold=0)


def test_background_class_never_becomes_an_event():
    scores = np.array([[0.9, 0.1]] * 5 + [[0.1, 0.9]] * 5)
    events = detect_events(scores, np.arange(10.0), ["background", "bird"], window_s=1.0, hop_s=1.0, duration_s=10.0,
                           settings=DetectionSettings(median_windows=1))
    assert [(e.label, e.start_s, e.end_s) for e in events] == [("bird", 4.5, 9.5)]


def test_one_label_per_event_gives_each_stretch_its_best_class_on_average():
    # windows 2-7 are one sound: dog leads in four of them, cat in two (mid-event), background around it
    scores = np.full((10, 3), [0.9, 0.05, 0.05])
    scores[2:8] = [[0.1, 0.8, 0.1], [0.1, 0.7, 0.2], [0.1, 0.3, 0.6], [0.1, 0.35, 0.55], [0.1, 0.8, 0.1], [0.1, 0.75, 0.15]]
    args = dict(window_s=1.0, hop_s=1.0, duration_s=10.0)
    by_window = detect_events(scores, np.arange(10.0), ["background", "dog", "cat"], settings=DetectionSettings(median_windows=1), **args)
    assert [(e.label, e.start_s, e.end_s) for e in by_window] == [("dog", 1.5, 3.5), ("cat", 3.5, 5.5), ("dog", 5.5, 7.5)]
    whole = detect_events(scores, np.arange(10.0), ["background", "dog", "cat"],
                          settings=DetectionSettings(median_windows=1, one_label_per_event=True), **args)
    assert [(e.label, e.start_s, e.end_s) for e in whole] == [("dog", 1.5, 7.5)]
    assert whole[0].mean_score == pytest.approx(np.mean([0.8, 0.7, 0.3, 0.35, 0.8, 0.75]))
