"""Open set and calibration on ESC-10 (issue 9): can a model say "none of these", and do its probabilities mean what they say?

    python benchmarks/bench_openset.py [--cache-dir DIR] [--json out.json] [--models "logreg,..."]

For each split of ESC-10's ten classes into five known and five unknown (the first five alphabetically, then the
other five), ``earmark.api.evaluate`` runs the official 5 folds: every fold trains on the known classes of its
training folds only, and tests on its fold's known clips, its fold's unknown-class clips and the six long
``background/`` recordings of speech_commands_dev (running tap, exercise bike, dishes, miaowing, white and pink noise;
cut to the clips' median length, the same pieces in every fold). Printed per model:

- accuracy on the known classes (closed set, 5-way);
- the expected calibration error of the top-class probability (15 bins, known test clips);
- AUROC of known against unknown test clips by the model's rejection score (its highest probability, or the distance
  to the nearest training clip), and the accuracy on known clips at 5% false acceptance of unknowns (known clips
  accepted and classified right, at the score cut that accepts 5% of unknowns);
- at each fold's own threshold (set on held-out scores of its training clips: 5% of known clips rejected): the share of
  known and unknown clips accepted.

A closed-set 10-class run adds the ECE before and after calibration on all of ESC-10.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import data_root, machine

from earmark import api
from earmark.models.registry import split_models

MODELS = ("logreg", "logreg[calibration=temperature]", "logreg[calibration=isotonic]",
          "logreg[reject=proba; calibration=temperature]", "logreg[reject=distance]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated; options in brackets separated by ';'")
    args = ap.parse_args()
    root = data_root()
    esc, background = root / "esc10", root / "speech_commands_dev" / "background"
    classes = sorted({line.split(",")[1] for line in (esc / "metadata.csv").read_text().splitlines()[1:]})
    splits = [classes[5:], classes[:5]]  # the unknown classes of each run
    models = split_models(args.models)
    print(f"# open set on ESC-10, official folds; {machine()}")
    t_all = time.perf_counter()
    rows = []
    for unknown in splits:
        known = [c for c in classes if c not in unknown]
        print(f"\nknown: {', '.join(known)}\nunknown: {', '.join(unknown)} + {background}")
        print(f"{'model':48s} {'acc':>6s} {'ECE':>6s} {'AUROC':>6s} {'acc@5%FA':>8s} {'known kept':>10s} {'unk. kept':>9s}  s")
        for name in models:
            t0 = time.perf_counter()
            r = api.evaluate(esc, model=name, folds="fold", cache_dir=args.cache_dir, unknown_classes=unknown,
                             unknown_dir=background)
            o = r["open_set"]
            t = o.get("at_threshold", {})
            row = {"model": name, "unknown": unknown, "accuracy": r["accuracy_mean"], "ece": r["calibration"]["ece"],
                   "auroc": o["auroc"], "ccr_at_5pct": o["ccr"], "score": o["score"], "n_known": o["n_known"],
                   "n_unknown": o["n_unknown"], "known_accepted": t.get("known_accepted"), "unknown_accepted": t.get("unknown_accepted"),
                   "seconds": time.perf_counter() - t0}
            rows.append(row)
            acc = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            print(f"{name:48s} {row['accuracy']:6.3f} {row['ece']:6.3f} {row['auroc']:6.3f} {row['ccr_at_5pct']:8.3f} "
                  f"{acc(row['known_accepted']):>10s} {acc(row['unknown_accepted']):>9s}  {row['seconds']:.1f}")
    print("\nclosed set, all ten classes:")
    closed = []
    for name in ("logreg", "logreg[calibration=temperature]", "logreg[calibration=isotonic]"):
        r = api.evaluate(esc, model=name, folds="fold", cache_dir=args.cache_dir)
        closed.append({"model": name, "accuracy": r["accuracy_mean"], "ece": r["calibration"]["ece"], "ece_per_fold": r["ece_mean"]})
        print(f"{name:48s} accuracy {r['accuracy_mean']:.4f}  ECE {r['calibration']['ece']:.4f} (per fold {r['ece_mean']:.4f})")
    total = time.perf_counter() - t_all
    print(f"\nwall time {total:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"open_set": rows, "closed_set": closed, "seconds": total, "machine": machine()}, f, indent=2)


if __name__ == "__main__":
    main()
