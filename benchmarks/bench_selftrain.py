"""Learning curves with and without the recordings nobody labelled (issue 29).

    python benchmarks/bench_selftrain.py esc10 [--repeats 5] [--json out.json]   # aisfx + logreg, n = 2, 4, 8, 16
    python benchmarks/bench_selftrain.py fsdd  [--repeats 5] [--json out.json]   # digits, speech + logreg, n = 2, 4, 8
    python benchmarks/bench_selftrain.py harm  [--json out.json]                 # unlabelled clips of other classes only

At each n, n clips per class are drawn from the training folds (the same
seeded draws for both rows); the `+ unlabelled` row also gets every other
training-fold clip with its label hidden and self-trains on them
(`earmark.models.selftrain`: class-balanced pseudo-labels at probability
>= 0.5, 5 rounds, kept only if better on held-out labelled clips).
Both rows are tested on the whole held-out fold. Prints the curve, how
often self-training was kept, and the share of wrong pseudo-labels.

`harm`: ESC-10's official folds, aisfx + logreg trained on five classes
(8 clips each, 5 seeded draws per fold) with the training folds' clips of
the *other* five classes as the unlabelled recordings: nothing in them can
help, so accuracy on the held-out fold must stay within noise of the plain
model, and the report says whether self-training was kept.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import data_root, machine

import earmark

TASKS = {
    "esc10": dict(path="esc10", embedders=["aisfx"], shots=(2, 4, 8, 16), folds="fold", test_folds=None, label_column="label"),
    "fsdd": dict(path="fsdd", embedders=["speech"], shots=(2, 4, 8), folds="split", test_folds=["test"], label_column="digit"),
}


def harm(args) -> None:
    """Unlabelled clips of other classes only: accuracy with and without them, per fold and draw."""
    import pandas as pd

    from earmark.embeddings import EmbeddingCache, get_embedder
    from earmark.embeddings.runner import embed_files
    from earmark.models import get_model
    from earmark.models.selftrain import self_train
    from earmark.pipeline import gated_features

    root = data_root() / "esc10"
    meta = pd.read_csv(root / "metadata.csv")
    paths = [root / f for f in meta["filename"]]
    front = get_embedder("aisfx")
    done = embed_files(paths, front, EmbeddingCache())
    by_path = {str(k): v for k, v in done.embeddings.items()}
    clips = [gated_features(by_path[str(p)], -60.0, front.window_s) for p in paths]
    labels, folds = meta["label"].to_numpy(), meta["fold"].to_numpy()
    known = sorted(set(labels))[:5]
    rows = []
    for f in sorted(set(folds)):
        for r in range(args.repeats):
            rng = np.random.default_rng([r, int(f)])
            train = np.concatenate([rng.permutation(np.flatnonzero((labels == c) & (folds != f)))[:8] for c in known])
            other = np.flatnonzero(~np.isin(labels, known) & (folds != f))
            test = np.flatnonzero(np.isin(labels, known) & (folds == f))
            plain = get_model("logreg").fit([clips[i] for i in train], labels[train])
            model, report = self_train(get_model("logreg"), [clips[i] for i in train], labels[train], [clips[i] for i in other])
            acc = lambda m: float(np.mean(m.predict([clips[i] for i in test]) == labels[test]))  # noqa: E731
            rows.append({"fold": int(f), "repeat": r, "plain": acc(plain), "with_unlabelled": acc(model), "used": report["used"],
                         "n_unlabelled": len(other), "reason": report["reason"]})
    diff = np.array([x["with_unlabelled"] - x["plain"] for x in rows])
    print(f"known classes {', '.join(known)}; unlabelled: the other classes' {rows[0]['n_unlabelled']} training-fold clips")
    print(f"plain {np.mean([x['plain'] for x in rows]):.4f}, with unlabelled {np.mean([x['with_unlabelled'] for x in rows]):.4f}; "
          f"difference {diff.mean():+.4f} (runs {len(rows)}, min {diff.min():+.3f}, max {diff.max():+.3f}); "
          f"self-training kept in {sum(x['used'] for x in rows)} of {len(rows)} runs; {machine()}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "machine": machine()}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=sorted(TASKS) + ["harm"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.task == "harm":
        return harm(args)
    t = TASKS[args.task]
    t0 = time.perf_counter()
    result = earmark.curve(data_root() / t["path"], embedders=t["embedders"], classifiers=["logreg"], shots=t["shots"],
                           repeats=args.repeats, folds=t["folds"], test_folds=t["test_folds"], label_column=t["label_column"],
                           unlabelled=True)
    runs = result["runs"]
    print("| model | " + " | ".join(f"n={n}" for n in result["shots"]) + " |")
    for clf in dict.fromkeys(r["classifier"] for r in result["summary"]):
        cells = {r["n"]: r for r in result["summary"] if r["classifier"] == clf}
        print(f"| {t['embedders'][0]} + {clf} | " + " | ".join(
            f"{cells[n]['accuracy_mean']:.3f} [{cells[n]['ci95_low']:.3f}, {cells[n]['ci95_high']:.3f}]" for n in result["shots"]) + " |")
    kept = {}
    for n in result["shots"]:
        st = [r for r in runs if r["n"] == n and r["classifier"].endswith("+ unlabelled")]
        used = [r for r in st if r["used"]]
        wrong = sum(r.get("pseudo_wrong", 0) for r in used) / max(1, sum(r["n_pseudo"] for r in used))
        kept[n] = {"runs": len(st), "kept": len(used), "pseudo_per_run": float(np.mean([r["n_pseudo"] for r in used])) if used else 0.0,
                   "wrong_share": wrong, "unlabelled_per_run": float(np.mean([r["n_unlabelled"] for r in st]))}
        print(f"n={n}: self-training kept in {len(used)} of {len(st)} runs; {kept[n]['pseudo_per_run']:.0f} pseudo-labels of "
              f"{kept[n]['unlabelled_per_run']:.0f} unlabelled clips per kept run, {wrong:.1%} of them wrong")
    total = (time.perf_counter() - t0) / 60
    print(f"{result['protocol']}; total {total:.1f} min; {machine()}")
    if args.json:
        args.json.write_text(json.dumps({"summary": result["summary"], "kept": kept, "minutes": total, "machine": machine()}, indent=1))


if __name__ == "__main__":
    main()
