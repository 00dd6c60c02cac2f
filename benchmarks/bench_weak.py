"""Weak-label transfer on ESC-10 mixtures (issue 9): Diment & Virtanen's table, reproduced with earmark's own commands.

    python benchmarks/bench_weak.py --work DIR [--seeds 0,1,2] [--n-train 36] [--duration-s 10]
    python benchmarks/bench_weak.py --work DIR --paper-schedule --max-epochs 300 --no-upper-bound   # no early stopping
    python benchmarks/bench_weak.py --work DIR --curve 2,4,8,16,36,72,200 --plot FIG.png   # accuracy against training size

1. `earmark.api.mix` makes the source task (crying_baby in ESC-10 folds 1-2, 500 mixtures) and the target task
   (dog in folds 3-5: a 200-mixture training pool and 500 test mixtures; train and test share no source recording,
   and neither task shares one with the other). Backgrounds: rain, sea_waves, crackling_fire, helicopter, chainsaw.
2. One lstm-tagger is trained on the source task.
3. Per seed, `n_train` target training mixtures (half with the event) are drawn from the pool, and each model is
   evaluated on the 500 test mixtures with `earmark.api.evaluate`: lstm-tagger from scratch, transferred (all,
   freeze-low, parallel-low), from scratch on the whole 200-mixture pool (upper bound), and aisfx + logistic
   regression on mean-pooled embeddings. Accuracy is the share of test mixtures whose event presence is right.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from _common import data_root, machine

from earmark import api

BACKGROUNDS = ["rain", "sea_waves", "crackling_fire", "helicopter", "chainsaw"]


def _mixtures(work: Path, duration_s: float) -> tuple[Path, Path]:
    esc = data_root() / "esc10"
    source, target = work / "source", work / "target"
    common = dict(duration_s=duration_s, ebr_db=(-6.0, 0.0, 6.0), event_rate=0.5, background_classes=BACKGROUNDS)
    if not (source / "metadata.csv").is_file():
        api.mix(esc, esc, source, splits={"train": 500}, event_classes=["crying_baby"], folds=["1", "2"], seed=1, **common)
    if not (target / "metadata.csv").is_file():
        api.mix(esc, esc, target, splits={"train": 200, "test": 500}, event_classes=["dog"], folds=["3", "4", "5"], seed=2, **common)
    return source, target


def _subset(target: Path, n_train: int | None, seed: int) -> Path:
    """A CSV beside the mixtures: ``n_train`` training mixtures (half with the event; all if None) and every test one."""
    rows = list(csv.DictReader(open(target / "metadata.csv")))
    train = [r for r in rows if r["split"] == "train"]
    if n_train is not None:
        rng = np.random.default_rng(seed)
        pos, neg = [r for r in train if r["label"]], [r for r in train if not r["label"]]
        train = [pos[i] for i in rng.choice(len(pos), n_train // 2, replace=False)] + \
                [neg[i] for i in rng.choice(len(neg), n_train - n_train // 2, replace=False)]
    path = target / f"subset-{n_train or 'all'}-seed{seed}.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(train + [r for r in rows if r["split"] == "test"])
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="folder for the mixtures, the source model and the results")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n-train", type=int, default=36)
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--paper-schedule", action="store_true",
                    help="target taggers train every epoch up to --max-epochs with no validation split or early stopping, as the paper")
    ap.add_argument("--no-upper-bound", action="store_true", help="skip the run on all 200 training mixtures")
    ap.add_argument("--curve", default=None, help="training sizes (e.g. 2,4,8,16,36,72,200): scratch, parallel-low and "
                    "aisfx + logreg at each, per seed, instead of the table")
    ap.add_argument("--plot", default=None, help="with --curve: the PNG to draw")
    args = ap.parse_args()
    print(machine(), flush=True)
    work = Path(args.work)
    t0 = time.perf_counter()
    source, target = _mixtures(work, args.duration_s)
    print(f"mixtures ready in {time.perf_counter() - t0:.0f} s", flush=True)
    tagger = {"max_epochs": args.max_epochs}
    src_model = work / "source.earmark"
    if not src_model.is_file():
        t = time.perf_counter()
        api.train(source, model="lstm-tagger", cache_dir=args.cache_dir, model_params=tagger).save(src_model)
        print(f"source tagger trained in {time.perf_counter() - t:.0f} s", flush=True)
    if args.paper_schedule:  # the source tagger above keeps early stopping (delete DIR/source.earmark to retrain it)
        tagger = {**tagger, "validation_fraction": 0.0, "patience": args.max_epochs}
    configs = {
        "scratch": ("lstm-tagger", tagger),
        "pre-train all": ("lstm-tagger", {**tagger, "pretrained": str(src_model.resolve()), "transfer": "all"}),
        "freeze-low": ("lstm-tagger", {**tagger, "pretrained": str(src_model.resolve()), "transfer": "freeze-low"}),
        "parallel-low": ("lstm-tagger", {**tagger, "pretrained": str(src_model.resolve()), "transfer": "parallel-low"}),
        "aisfx + logreg": ("logreg", None),
    }
    if args.curve:
        _curve(target, {k: configs[k] for k in ("scratch", "parallel-low", "aisfx + logreg")}, args, work, t0)
        return
    results: dict[str, list[dict]] = {}
    for seed in map(int, args.seeds.split(",")):
        runs = [(name, model, params, _subset(target, args.n_train, seed)) for name, (model, params) in configs.items()]
        if not args.no_upper_bound:
            runs.append(("scratch, all 200 training mixtures", "lstm-tagger", tagger, _subset(target, None, seed)))
        for name, model, params, data in runs:
            t = time.perf_counter()
            params = None if params is None else {**params, "random_state": seed}
            r = api.evaluate(data, model=model, embedder="aisfx", folds="split", test_folds=["test"], cache_dir=args.cache_dir,
                             model_params=params)
            fold = r["folds"][0]
            results.setdefault(name, []).append({"seed": seed, "accuracy": fold["accuracy"], "mAP": fold["mAP"],
                                                 "auc": fold["macro_auc"], "epochs": fold.get("epochs"), "seconds": time.perf_counter() - t})
            print(f"seed {seed} | {name} | accuracy {fold['accuracy']:.3f} | AP {fold['mAP']:.3f} | AUC {fold['macro_auc']:.3f} | "
                  f"epochs {fold.get('epochs', '-')} | {time.perf_counter() - t:.0f} s", flush=True)
    print("| model | accuracy (mean ± std over seeds) | AP | ROC-AUC | s per run |")
    print("| --- | --- | --- | --- | --- |")
    for name, rs in results.items():
        acc, ap_, auc = (np.array([r[k] for r in rs]) for k in ("accuracy", "mAP", "auc"))
        print(f"| {name} | {acc.mean():.3f} ± {acc.std():.3f} | {ap_.mean():.3f} | {auc.mean():.3f} | "
              f"{np.mean([r['seconds'] for r in rs]):.0f} |")
    print(f"total {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    (work / ("weak-paper.json" if args.paper_schedule else "weak.json")).write_text(json.dumps(results, indent=1))


def _curve(target: Path, configs: dict, args, work: Path, t0: float) -> None:
    sizes = [int(n) for n in args.curve.split(",")]
    runs = []
    for seed in map(int, args.seeds.split(",")):
        for n in sizes:
            data = _subset(target, None if n >= 200 else n, seed)
            for name, (model, params) in configs.items():
                t = time.perf_counter()
                params = None if params is None else {**params, "random_state": seed}
                r = api.evaluate(data, model=model, embedder="aisfx", folds="split", test_folds=["test"], cache_dir=args.cache_dir,
                                 model_params=params)
                fold = r["folds"][0]
                runs.append({"seed": seed, "n": n, "model": name, "accuracy": fold["accuracy"], "mAP": fold["mAP"],
                             "epochs": fold.get("epochs"), "seconds": time.perf_counter() - t})
                print(f"seed {seed} | n {n} | {name} | accuracy {fold['accuracy']:.3f} | AP {fold['mAP']:.3f} | "
                      f"{time.perf_counter() - t:.0f} s", flush=True)
    print("| model | " + " | ".join(f"n={n}" for n in sizes) + " |")
    print("| --- | " + " | ".join("---" for _ in sizes) + " |")
    for name in configs:
        cells = []
        for n in sizes:
            acc = np.array([r["accuracy"] for r in runs if r["model"] == name and r["n"] == n])
            cells.append(f"{acc.mean():.3f} ± {acc.std():.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    total = time.perf_counter() - t0
    print(f"total {total / 60:.1f} min", flush=True)
    (work / "weak-curve.json").write_text(json.dumps({"runs": runs, "sizes": sizes, "seconds": total}, indent=1))
    if args.plot:
        _plot_curve(runs, sizes, list(configs), Path(args.plot))


def _plot_curve(runs: list[dict], sizes: list[int], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, colour in zip(names, ("tab:blue", "tab:orange", "tab:green")):
        acc = np.array([[r["accuracy"] for r in runs if r["model"] == name and r["n"] == n] for n in sizes])
        mean, std = acc.mean(axis=1), acc.std(axis=1)
        ax.plot(sizes, mean, "o-", color=colour, label=name, linewidth=2)
        ax.fill_between(sizes, mean - std, mean + std, color=colour, alpha=0.15)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.set_ylim(0.4, 1.0)
    ax.set_xlabel("target training mixtures (half with a dog bark), log scale")
    ax.set_ylabel("accuracy on 500 test mixtures")
    ax.set_title(f"Weak-label transfer on ESC-10 mixtures (mean ± std, {len({r['seed'] for r in runs})} seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
