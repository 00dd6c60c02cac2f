"""earmark's event metrics against DCASE's reference implementation, sed_eval: the same figures, and how fast.

    pip install --target /tmp/sedlib sed_eval "setuptools<81"     # beside the project, never into its environment
    python benchmarks/bench_event_metrics.py --sed-eval /tmp/sedlib [--cases 200]

sed_eval stays out of earmark's environment: its dcase_util installs a top-level ``tests`` package (which shadows
the project's own test package, a namespace package) and imports setuptools' ``pkg_resources`` (gone in setuptools
81). ``--sed-eval`` names where it was installed; that folder goes at the *end* of the import path, so numpy, scipy
and earmark are this environment's.

Random event lists (3 classes, events of 0.1-4 s over a minute; estimates are jittered copies of most references,
some relabelled, plus false alarms) are scored by both: event-based precision, recall and F1 with 200-ms onset
collars and offsets within max(200 ms, half the event), optimal one-to-one matching, and segment-based ones over 1-s
segments, overall and per class. Then both time 1,000 reference against 1,000 estimated events over an hour.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from earmark.data.labels import Event
from earmark.evaluation.events import event_based, segment_based

LABELS = ["dog", "rain", "rooster"]


def _events(rng, n: int, span_s: float) -> list[Event]:
    out = []
    for _ in range(n):
        start = float(np.round(rng.uniform(0, span_s - 5), 2))
        out.append(Event(start, float(np.round(start + rng.uniform(0.1, 4.0), 2)), str(rng.choice(LABELS))))
    return out


def _case(rng) -> tuple[list[Event], list[Event]]:
    reference = _events(rng, int(rng.integers(3, 15)), 60.0)
    estimated = [Event(float(np.round(r.start_s + rng.normal(0, 0.2), 2)), float(np.round(r.end_s + rng.normal(0, 0.4), 2)),
                       r.label if rng.random() < 0.85 else str(rng.choice(LABELS)))
                 for r in reference if rng.random() < 0.8] + _events(rng, int(rng.integers(0, 5)), 60.0)
    return reference, [e for e in estimated if e.end_s > e.start_s >= 0]


def _sed_eval(reference, estimated, duration_s):
    import dcase_util
    import sed_eval

    def container(events):
        return dcase_util.containers.MetaDataContainer(
            [{"filename": "rec.wav", "event_label": e.label, "onset": e.start_s, "offset": e.end_s} for e in events])

    ev = sed_eval.sound_event.EventBasedMetrics(event_label_list=LABELS, t_collar=0.2, percentage_of_length=0.5)
    ev.evaluate(reference_event_list=container(reference), estimated_event_list=container(estimated))
    seg = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=LABELS, time_resolution=1.0)
    seg.evaluate(reference_event_list=container(reference), estimated_event_list=container(estimated),
                 evaluated_length_seconds=duration_s)
    return ev, seg


def _differences(reference, estimated) -> float:
    """The largest difference between earmark's and sed_eval's figures on one case."""
    ours_e, ours_s = event_based(reference, estimated), segment_based(reference, estimated, duration_s=60.0)
    ev, seg = _sed_eval(reference, estimated, 60.0)
    pairs = [(ours_e[k], ev.results_overall_metrics()["f_measure"][m]) for k, m in
             (("f1", "f_measure"), ("precision", "precision"), ("recall", "recall"))]
    pairs += [(ours_s[k], seg.results_overall_metrics()["f_measure"][m]) for k, m in
              (("f1", "f_measure"), ("precision", "precision"), ("recall", "recall"))]
    by_class = ev.results_class_wise_metrics()
    pairs += [(f1, by_class[label]["f_measure"]["f_measure"]) for label, f1 in ours_e["per_class_f1"].items()
              if not np.isnan(by_class[label]["f_measure"]["f_measure"])]
    return max(abs(a - b) for a, b in pairs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sed-eval", required=True, help="the folder sed_eval was installed into (pip install --target)")
    ap.add_argument("--cases", type=int, default=200)
    args = ap.parse_args()
    sys.path.append(args.sed_eval)
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(26)
    worst = max(_differences(*_case(rng)) for _ in range(args.cases))
    print(f"{args.cases} random cases: largest difference from sed_eval {worst:.2e} (event and segment based, overall and per class)")
    reference, estimated = _events(rng, 1000, 3600.0), _events(rng, 1000, 3600.0)
    t0 = time.perf_counter()
    ours = event_based(reference, estimated)["f1"], segment_based(reference, estimated, duration_s=3600.0)["f1"]
    t1 = time.perf_counter()
    ev, seg = _sed_eval(reference, estimated, 3600.0)
    t2 = time.perf_counter()
    theirs = ev.results_overall_metrics()["f_measure"]["f_measure"], seg.results_overall_metrics()["f_measure"]["f_measure"]
    print(f"1,000 against 1,000 events over an hour: earmark {1000 * (t1 - t0):.1f} ms, sed_eval {1000 * (t2 - t1):.1f} ms "
          f"({(t2 - t1) / (t1 - t0):.0f}x); F1 {ours[0]:.4f} / {ours[1]:.4f} against {theirs[0]:.4f} / {theirs[1]:.4f}")


if __name__ == "__main__":
    main()
