"""A simulated labelling loop on ESC-10 (issue 12): uncertainty sampling against random sampling.

    python benchmarks/bench_label_loop.py --work DIR [--embedder aisfx] [--seeds 5] [--plot benchmarks/figures/label_loop.png]

ESC-10 is indexed into a store (with its labels, which only the simulated
user reads). Fold 5 (80 clips) is held out; folds 1-4 (320 clips) are the
pool. Each run starts from one labelled clip per class (drawn by the seed),
then 8 rounds: train the default head (standardised logistic regression) on
the labelled clips' windows, pick the next windows with
``earmark.explore.label.pick`` (the function ``earmark label`` uses), and the
user labels the clips of the first 10 distinct picked windows. After each
round, accuracy on the held-out fold (clip = mean of its window
probabilities). The reference is training on 8 random clips per class (80
labels), over the same seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from _common import data_root, machine

ROUNDS, PER_ROUND = 8, 10


def fit_predict(vectors, clip_of, labels, train_clips, test_clips):
    from earmark.models.heads import EmbeddingClassifier

    clips = [vectors[clip_of == c] for c in train_clips]
    est = EmbeddingClassifier("logreg").fit(clips, np.array([labels[c] for c in train_clips]))
    proba_test = est.predict_proba([vectors[clip_of == c] for c in test_clips])
    acc = float(np.mean(est.classes_[proba_test.argmax(axis=1)] == np.array([labels[c] for c in test_clips])))
    return est, acc


def run(vectors, clip_of, labels, pool, test, strategy, seed):
    from earmark.explore.label import pick

    rng = np.random.default_rng(seed)
    classes = sorted(set(labels[c] for c in pool))
    labelled = [int(rng.choice([c for c in pool if labels[c] == k])) for k in classes]
    curve = []
    for _ in range(ROUNDS):
        est, acc = fit_predict(vectors, clip_of, labels, labelled, test)
        curve.append((len(labelled), acc))
        rows = np.flatnonzero(np.isin(clip_of, pool) & ~np.isin(clip_of, labelled))
        scores = est.window_proba(vectors[rows])
        order = pick(scores, np.ones(len(rows), bool), len(rows), strategy=strategy, seed=int(rng.integers(1 << 31)))
        new = []
        for i in order:  # the clips of the first 10 distinct picked windows
            c = int(clip_of[rows[i]])
            if c not in new:
                new.append(c)
            if len(new) == PER_ROUND:
                break
        labelled += new
    curve.append((len(labelled), fit_predict(vectors, clip_of, labels, labelled, test)[1]))
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--embedder", default="aisfx")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from earmark import api
    from earmark.explore.store import Store

    print(machine())
    esc = data_root() / "esc10"
    store = args.work / f"store-{args.embedder}"
    api.index(esc / "audio", store, embedder=args.embedder, labels=esc / "metadata.csv")
    st = Store.open(store)
    t = st.table(("file", "level_db", "label"))
    loud = t["level_db"] >= -60
    vectors = st.vectors()
    folds = {str((esc / r["filename"]).resolve()): r["fold"] for r in csv.DictReader(open(esc / "metadata.csv"))}
    files = sorted(set(t["file"].tolist()))
    index = {f: i for i, f in enumerate(files)}
    clip_of = np.array([index[f] for f in t["file"]])
    # a clip with no loud window keeps all of its windows (as training and prediction do)
    keep = loud | ~np.isin(clip_of, np.unique(clip_of[loud]))
    vectors, clip_of = vectors[keep], clip_of[keep]
    labels = {index[f]: t["label"][np.flatnonzero(t["file"] == f)[0]] for f in files}
    pool = [index[f] for f in files if folds[f] != "5"]
    test = [index[f] for f in files if folds[f] == "5"]

    curves = {s: [run(vectors, clip_of, labels, pool, test, s, seed) for seed in range(args.seeds)] for s in ("uncertain", "random")}
    reference = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(1000 + seed)
        chosen = [int(c) for k in sorted(set(labels.values())) for c in rng.choice([c for c in pool if labels[c] == k], 8, replace=False)]
        reference.append(fit_predict(vectors, clip_of, labels, chosen, test)[1])
    ref = float(np.mean(reference))
    print(f"{args.embedder}: held-out fold 5, {len(test)} clips; pool {len(pool)} clips; {args.seeds} seeds")
    print(f"reference, 8 random clips per class (80 labels): accuracy {ref:.3f} ± {np.std(reference):.3f}")
    summary = {"reference_80_random": ref, "reference_std": float(np.std(reference))}
    for s, runs in curves.items():
        n = [p[0] for p in runs[0]]
        acc = np.array([[p[1] for p in r] for r in runs])
        mean, std = acc.mean(axis=0), acc.std(axis=0)
        reached = next((k for k, a in zip(n, mean) if a >= ref), None)
        summary[s] = {"labels": n, "accuracy_mean": mean.tolist(), "accuracy_std": std.tolist(), "labels_to_reference": reached}
        print(f"{s:9s} " + "  ".join(f"{k}:{m:.3f}±{d:.3f}" for k, m, d in zip(n, mean, std))
              + f"  | reaches the reference at {reached if reached is not None else 'no point up to ' + str(n[-1])} labels")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for s, style in (("uncertain", "-o"), ("random", "--s")):
            d = summary[s]
            m, e = np.array(d["accuracy_mean"]), np.array(d["accuracy_std"])
            ax.plot(d["labels"], m, style, label=f"{s} sampling")
            ax.fill_between(d["labels"], m - e, m + e, alpha=0.15)
        ax.axhline(ref, color="grey", linestyle=":", label="8 random clips per class (80 labels)")
        ax.set_xlabel("labelled clips")
        ax.set_ylabel("accuracy on held-out fold 5")
        ax.set_title(f"Labelling loop on ESC-10 ({args.embedder}, {args.seeds} seeds)")
        ax.legend(loc="lower right")
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
