"""Networks trained here against the embedding baseline, in one `compare` report (issue 8).

    python benchmarks/bench_networks.py compare [--models M1,M2,...] [--report DIR] [--cache-dir DIR]
    python benchmarks/bench_networks.py compare --models sbcnn --test-fold 1     # seconds per epoch, quickly
    python benchmarks/bench_networks.py curve [--models ...] [--repeats 3] [--report DIR]
    python benchmarks/bench_networks.py fsdd [--models ...] [--report DIR]

`compare`: ESC-10's 5 official folds, every model in one `earmark.compare`
(the same folds, the same features through the cache), aisfx + logistic
regression as the reference row. Networks train from scratch per fold
with a validation split taken from the training folds and early stopping;
options per model go in brackets (see `earmark models`). Prints each row's
accuracy (mean ± std over folds), epochs, seconds per epoch and the wall
time of its 5-fold run, and writes the compare report.

`curve`: ESC-10 learning curve, n = 4, 8, 16, 32 clips per class drawn from
the training folds, for the same models in one plot.

`fsdd`: free spoken digits on the official split (train on `train`, test
on `test`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import data_root, machine

import earmark
from earmark.evaluation import report as reports

AUG = "shift,pitch,gain,noise"  # two augmented copies per training clip (the default)
COMPARE = ("logreg,sbcnn[max_epochs=25],sbcnn[max_epochs=25; augment=" + AUG + ",copies=1,specaugment,mixup],"
           "vgg-small[max_epochs=25],timbre[max_epochs=25],wavecnn[max_epochs=25],finetune:aisfx[augment=" + AUG + "]")
CURVE = "logreg,sbcnn[max_epochs=25],finetune:aisfx[augment=" + AUG + "]"
FSDD = "logreg,sbcnn[max_epochs=25],wavecnn[max_epochs=25]"


def _split(models: str) -> list[str]:
    from earmark.models.registry import split_models

    return split_models(models)


def _wall(result: dict, key: str) -> tuple[str, float]:
    """Epochs, seconds per epoch and fit + predict seconds of one compare row, from its fold records."""
    folds = result["results"][key]["folds"]
    wall = sum(f["fit_seconds"] + f["predict_seconds"] for f in folds)
    if "epochs" not in folds[0]:
        return "-", wall
    epochs = [f["epochs"] for f in folds]
    per_epoch = sum(f["seconds_per_epoch"] * f["epochs"] for f in folds) / sum(epochs)
    return f"epochs {epochs} ({', '.join(f['stopped'] for f in folds)}), {per_epoch:.1f} s/epoch", wall


def run_compare(args, root: Path, folds: str, test_folds, embedder: str, label_column: str = "label") -> None:
    t0 = time.perf_counter()
    result = earmark.compare(root, embedders=[embedder], models=_split(args.models), folds=folds, test_folds=test_folds,
                             label_column=label_column, cache_dir=args.cache_dir, progress=False)
    print(f"{result['protocol']}; features {result['seconds']['embed']:.0f} s (cache {args.cache_dir or 'default'}); "
          f"total {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    for row in result["rows"]:
        key = f"{row['embedder']} / {row['classifier']}"
        training, wall = _wall(result, key)
        fold_acc = ", ".join(f"{f['accuracy']:.3f}" for f in result["results"][key]["folds"])
        print(f"| {row['embedder']} | {row['classifier']} | {row['accuracy_mean']:.4f} ± {row['accuracy_std']:.4f} | {fold_acc} | "
              f"{training} | {wall / 60:.1f} min |", flush=True)
    _save(result, args, "compare_report")


def run_curve(args, root: Path) -> None:
    result = earmark.curve(root, embedders=["aisfx"], models=_split(args.models), shots=(4, 8, 16, 32), repeats=args.repeats,
                           folds="fold", cache_dir=args.cache_dir)
    for row in result["summary"]:
        print(f"| {row['embedder']} | {row['classifier']} | {row['n']} | {row['accuracy_mean']:.4f} "
              f"[{row['ci95_low']:.3f}, {row['ci95_high']:.3f}] | {row['n_runs']} |", flush=True)
    print(f"total {result['seconds']['total'] / 60:.1f} min", flush=True)
    _save(result, args, "curve_report")


def _save(result: dict, args, kind: str) -> None:
    if args.report:
        paths = getattr(reports, kind)(result, Path(args.report))
        print(f"wrote {paths['markdown']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=("compare", "curve", "fsdd"))
    ap.add_argument("--models", default=None)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--test-fold", default=None, help="compare: only this fold as the test set (for timing)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--report", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    print(machine(), flush=True)
    if args.task == "compare":
        args.models = args.models or COMPARE
        run_compare(args, data_root() / "esc10", "fold", [args.test_fold] if args.test_fold else None, "aisfx")
    elif args.task == "curve":
        args.models = args.models or CURVE
        run_curve(args, data_root() / "esc10")
    else:
        args.models = args.models or FSDD
        run_compare(args, data_root() / "fsdd", "split", ["test"], "mfcc", label_column="digit")


if __name__ == "__main__":
    main()
