"""Issue 3 figures: learning curves and comparisons of the model zoo on ESC-10 and FSDD.

    python benchmarks/bench_zoo.py [--cache-dir DIR] [--out benchmarks/out/zoo]

1. ESC-10 curve, mfcc + aisfx + birdnet x knn + logreg x n = 1..32 x 10
   repeats x 5 official folds, timed from a cold cache (fresh folder) and
   again warm.
2. ESC-10 curve with every embedder of the zoo.
3. ESC-10 full-data compare, with the fusion aisfx+birdnet.
4. FSDD digit and speaker: curves and compare on the official split.

Reports (Markdown + HTML + PNG) and JSON land under --out; the script prints
the figures RESULTS.md quotes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

from _common import data_root, machine

import earmark
from earmark.evaluation.report import compare_report, curve_report

warnings.filterwarnings("ignore")
ZOO = ["mfcc", "aisfx", "birdnet", "speech", "speaker"]
CLASSIFIERS = ["knn", "logreg"]


def save(result: dict, out: Path, name: str, report) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    report(result, out / name)


def show_curve(name: str, r: dict, at=(1, 8, 32)) -> None:
    print(f"== {name}: {r['protocol'].split(';')[0]}, {len(r['runs'])} runs, {r['seconds']['total']:.1f} s", flush=True)
    for row in r["summary"]:
        if row["n"] in at:
            print(f"   {row['embedder']:>14} {row['classifier']:>6} n={row['n']:<3} {row['accuracy_mean']:.3f} "
                  f"[{row['ci95_low']:.3f}, {row['ci95_high']:.3f}]", flush=True)


def show_compare(name: str, r: dict) -> None:
    print(f"== {name}: {r['protocol']}", flush=True)
    for i, row in enumerate(r["rows"]):
        star = "  <- best" if i == r["best"] else ""
        print(f"   {row['embedder']:>14} {row['classifier']:>6} {row['accuracy_mean']:.4f} ± {row['accuracy_std']:.4f}  "
              f"bal {row['balanced_accuracy_mean']:.4f}  F1 {row['macro_f1_mean']:.4f}  fit {row['fit_seconds_per_fold']:.2f} s/fold{star}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None, help="warm cache for the zoo runs (default: the cold-run folder)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "zoo"))
    args = ap.parse_args()
    out, root = Path(args.out), data_root()
    print(machine(), flush=True)
    esc = dict(folds="fold", classifiers=CLASSIFIERS)
    cold_dir = tempfile.mkdtemp(prefix="earmark-cold-")
    three = ["mfcc", "aisfx", "birdnet"]
    t = time.perf_counter()
    cold = earmark.curve(root / "esc10", embedders=three, cache_dir=cold_dir, **esc)
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    warm = earmark.curve(root / "esc10", embedders=three, cache_dir=cold_dir, **esc)
    warm_s = time.perf_counter() - t
    print(f"ESC-10 curve, 3 embedders x 2 classifiers x 6 n x 10 repeats x 5 folds: cold cache {cold_s:.1f} s "
          f"(embed {cold['seconds']['embed']:.1f} s), warm cache {warm_s:.1f} s (embed {warm['seconds']['embed']:.1f} s)", flush=True)
    cache = args.cache_dir or cold_dir
    r = earmark.curve(root / "esc10", embedders=ZOO, cache_dir=cache, **esc)
    show_curve("ESC-10 curve, the zoo", r)
    save(r, out, "esc10-curve", curve_report)
    r = earmark.compare(root / "esc10", embedders=ZOO + ["aisfx+birdnet", "aisfx+speech"], classifiers=CLASSIFIERS,
                        folds="fold", cache_dir=cache)
    show_compare("ESC-10 compare", r)
    save(r, out, "esc10-compare", compare_report)
    fsdd = dict(folds="split", test_folds=["test"], cache_dir=cache)
    for task in ("digit", "speaker"):
        r = earmark.curve(root / "fsdd", embedders=ZOO, classifiers=CLASSIFIERS, label_column=task, **fsdd)
        show_curve(f"FSDD {task} curve", r)
        save(r, out, f"fsdd-{task}-curve", curve_report)
        r = earmark.compare(root / "fsdd", embedders=ZOO, classifiers=CLASSIFIERS, label_column=task, **fsdd)
        show_compare(f"FSDD {task} compare", r)
        save(r, out, f"fsdd-{task}-compare", compare_report)


if __name__ == "__main__":
    main()
