"""Ensembles of commercially usable models on ESC-10's official folds, in one `compare` (issue 29).

    python benchmarks/bench_ensemble.py compare [--seed 0] [--json out.json] [--cache-dir DIR]
    python benchmarks/bench_ensemble.py heads [--json out.json]        # the ensembles of embedding heads only (minutes)
    python benchmarks/bench_ensemble.py speech [--json out.json]       # speech_commands_dev, 12 classes, 5 speaker folds

`compare`: aisfx + logreg (the reference), finetune:aisfx with waveform
augmentation, the embedding heads on every commercial front end, their
fusion, and ensembles of them, every one on the same five folds. An
ensemble's members appear beside it; a `combine=mean` ensemble whose members
read the same windows as alone is scored from the members' own fits (exactly
what fitting it would give; `compare` checks the windows clip by clip), so
fine-tuning runs once per fold. Prints each row's accuracy (mean ± std over
folds), fold accuracies and seconds of fitting per fold; `--json` keeps them.
Networks trained here are not bit-identical across CPUs: run with
`--seed 0`, `1`, `2` for the spread over seeds.

`speech`: speech_commands_dev's 12 classes (every clip kept, gate off), its
5 speaker-disjoint folds: the heads on `speech` and ensembles of them with
heads on the other commercial front ends.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import data_root, machine

import earmark

AUG = "shift,pitch,gain,noise"
FT = f"finetune:aisfx[augment={AUG}]"
HEADS5 = "logreg@aisfx, svm@aisfx, logreg@speech, logreg@speaker, logreg@mfcc"
HEADS = ["logreg", "svm", f"ensemble[members={HEADS5}]", f"ensemble[members={HEADS5}; combine=weighted]",
         f"ensemble[members={HEADS5}; combine=stack]"]
COMPARE = HEADS + [FT, f"ensemble[members=logreg@aisfx, {FT}]",
                   f"ensemble[members=logreg@aisfx, svm@aisfx, logreg[augment={AUG}]@aisfx, {FT}]"]


SPEECH4 = "logreg@speech, svm@speech, logreg@aisfx, logreg@speaker"
SPEECH = ["logreg", "svm", "mlp", "ensemble[members=logreg@speech, svm@speech]", f"ensemble[members={SPEECH4}]",
          f"ensemble[members={SPEECH4}; combine=weighted]", f"ensemble[members={SPEECH4}; combine=stack]"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("compare", "heads", "speech"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.what == "speech":
        result = earmark.compare(data_root() / "speech_commands_dev", embedders=["speech"], models=SPEECH, folds="fold",
                                 gate_db=None, seed=args.seed, cache_dir=args.cache_dir)
    else:
        result = earmark.compare(data_root() / "esc10", embedders=["aisfx", "aisfx+speech+speaker+mfcc"],
                                 models=COMPARE if args.what == "compare" else HEADS, folds="fold", seed=args.seed,
                                 cache_dir=args.cache_dir)
    rows = []
    for row in result["rows"]:
        r = result["results"][f"{row['embedder']} / {row['classifier']}"]
        rows.append({"front_end": row["embedder"], "model": row["classifier"], "accuracy_mean": row["accuracy_mean"],
                     "accuracy_std": row["accuracy_std"], "folds": [f["accuracy"] for f in r["folds"]],
                     "fit_seconds_per_fold": row["fit_seconds_per_fold"], "reused_member_fits": bool(r.get("reused_member_fits"))})
        print(f"| {row['embedder']} | {row['classifier']} | {row['accuracy_mean']:.4f} ± {row['accuracy_std']:.4f} | "
              f"{' '.join(f'{a:.3f}' for a in rows[-1]['folds'])} | {row['fit_seconds_per_fold']:.1f} s"
              f"{' (members reused)' if rows[-1]['reused_member_fits'] else ''} |", flush=True)
    total = (time.perf_counter() - t0) / 60
    print(f"{result['protocol']}; seed {args.seed}; features {result['seconds']['embed']:.0f} s; total {total:.1f} min; {machine()}")
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "rows": rows, "minutes": total, "machine": machine(),
                                         "protocol": result["protocol"]}, indent=1))


if __name__ == "__main__":
    main()
