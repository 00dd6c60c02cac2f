"""Accuracy on ESC-10 (official 5 folds) and FSDD (official split), and the cache speed-up.

    python benchmarks/bench_accuracy.py [--cache-dir DIR]

Uses the public API exactly as `earmark evaluate` does. The ESC-10 aisfx
run is done twice over one fresh cache folder: the ratio of the two wall
times is the cache speed-up.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import json
import tempfile
import warnings

from _common import data_root, machine

import earmark

warnings.filterwarnings("ignore")


def show(name: str, r: dict) -> None:
    print(f"{name}: accuracy {r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f} (balanced {r['balanced_accuracy_mean']:.4f}, "
          f"macro-F1 {r['macro_f1_mean']:.4f}), {r['n_files']} files, {r['n_skipped']} skipped; "
          f"embed {r['seconds']['embed']:.1f} s, fit {r['seconds']['fit']:.1f} s, total {r['seconds']['total']:.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    cache = args.cache_dir or tempfile.mkdtemp(prefix="earmark-bench-")
    root = data_root()
    print(machine())
    results = {}
    esc = dict(folds="fold", cache_dir=cache)
    first = earmark.evaluate(root / "esc10", embedder="aisfx", classifier="logreg", **esc)
    second = earmark.evaluate(root / "esc10", embedder="aisfx", classifier="logreg", **esc)
    show("ESC-10 aisfx + logreg (cold cache)", first)
    show("ESC-10 aisfx + logreg (warm cache)", second)
    print(f"cache speed-up of the whole evaluate: {first['seconds']['total'] / second['seconds']['total']:.1f}x", flush=True)
    results["esc10/aisfx/logreg"] = first
    for emb, clf in (("aisfx", "svm"), ("aisfx", "knn"), ("mfcc", "knn"), ("mfcc", "logreg")):
        r = earmark.evaluate(root / "esc10", embedder=emb, classifier=clf, **esc)
        show(f"ESC-10 {emb} + {clf}", r)
        results[f"esc10/{emb}/{clf}"] = r
    # ablations quoted in RESULTS.md: the window gate, and logistic regression's default C
    r = earmark.evaluate(root / "esc10", embedder="mfcc", classifier="knn", gate_db=None, **esc)
    show("ESC-10 mfcc + knn, no window gate", r)
    r = earmark.evaluate(root / "esc10", embedder="aisfx", classifier="logreg", classifier_params={"C": 1.0}, **esc)
    show("ESC-10 aisfx + logreg, C = 1 (scikit-learn's default)", r)
    for task in ("digit", "speaker"):
        for emb, clf in (("aisfx", "logreg"), ("mfcc", "logreg"), ("mfcc", "knn")):
            r = earmark.evaluate(root / "fsdd", embedder=emb, classifier=clf, label_column=task, folds="split", test_folds=["test"], cache_dir=cache)
            show(f"FSDD {task} {emb} + {clf} (official split)", r)
            results[f"fsdd-{task}/{emb}/{clf}"] = r
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
