"""Networks trained here against the embedding baseline on ESC-10's official folds (issue 8).

    python benchmarks/bench_networks.py [--models sbcnn,vgg-small,timbre] [--max-epochs 30] [--cache-dir DIR]
    python benchmarks/bench_networks.py --models sbcnn --test-fold 1 --max-epochs 3   # seconds per epoch, quickly

One `compare` over the 5 official folds: each network on 3 s log-mel patches
(logmel front end), trained from scratch per fold with a validation split
taken from the training folds, early stopping, and aisfx + logistic
regression as the reference in the same run. Prints accuracy (mean ± std
over folds), epochs, seconds per epoch and the wall time of each 5-fold run.
"""

from __future__ import annotations

import argparse
import time

from _common import data_root, machine

import earmark


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="sbcnn,vgg-small,timbre")
    ap.add_argument("--max-epochs", type=int, default=30)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--test-fold", default=None, help="only this fold as the test set (for timing)")
    args = ap.parse_args()
    test_folds = [args.test_fold] if args.test_fold else None
    print(machine(), flush=True)
    root = data_root() / "esc10"
    ref = earmark.compare(root, embedders=["aisfx"], models=["logreg"], folds="fold", test_folds=test_folds, cache_dir=args.cache_dir)
    row = ref["rows"][0]
    print(f"aisfx + logreg: {row['accuracy_mean']:.4f} ± {row['accuracy_std']:.4f} (reference, same run)", flush=True)
    for name in args.models.split(","):
        t0 = time.perf_counter()
        r = earmark.evaluate(root, model=name, folds="fold", test_folds=test_folds, model_params={"max_epochs": args.max_epochs},
                             cache_dir=args.cache_dir)
        wall = time.perf_counter() - t0
        folds = r["folds"]
        epochs = [f["epochs"] for f in folds]
        per_epoch = sum(f["seconds_per_epoch"] * f["epochs"] for f in folds) / sum(epochs)
        fold_acc = ", ".join(f"{f['accuracy']:.3f}" for f in folds)
        print(f"{name}: {r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f} (folds {fold_acc}); "
              f"epochs {epochs} (stopped: {', '.join(f['stopped'] for f in folds)}); {per_epoch:.1f} s per epoch; "
              f"{len(folds)}-fold run {wall / 60:.1f} min (features {r['seconds']['embed']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
