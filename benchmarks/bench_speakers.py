"""Speaker verification and identification on voices never used in training (issue 10).

    python benchmarks/bench_speakers.py [--cache-dir DIR] [--json out.json]

speech_commands_dev: the 2,545 clips with a speaker (124 speakers; ``_silence_`` has none), 5 speaker-disjoint folds.
For each fold, the encoders are fitted on the other four folds' speakers only, and the fold's speakers are enrolled
and tested: each speaker with more than 3 clips gets a voice print from 3 of them (seeded), every other clip of the
fold is a trial against every print. Printed per encoder, mean over folds:

- equal error rate of the verification trials (cosine scores);
- identification accuracy among 10 enrolled speakers (the true one and 9 drawn at random, 20 draws per clip) and
  among all of the fold's enrolled speakers;
- the false-accept and false-reject rates at the threshold calibrated on the training folds' speakers (the EER
  threshold of their own trials), which is what ``earmark enroll --calibrate`` sets.

Encoders: MFCC statistics (the ``mfcc`` embedder's window vectors, mean-pooled, standardised on the training folds),
the ``speaker`` embedder (Resemblyzer) as it is, and ``metric`` trained on the training folds' speakers (triplet loss,
batch-hard miner, identity-initialised linear projection of the speaker embeddings), beside its two-layer variant
trained from scratch (``projection=mlp``, 30 epochs).

FSDD: the six speakers enrolled with 1, 3 and 5 clips each (seeded draws, 10 repeats), every other clip identified
among the six; no training on any FSDD clip (the speaker embedder, and the metric model trained on all of
speech_commands_dev).
"""

from __future__ import annotations

import argparse
import csv
import json
import time

import numpy as np
from _common import data_root, machine

from earmark.embeddings import EmbeddingCache, get_embedder
from earmark.metrics.speakers import equal_error_rate, identification_accuracy, trials, unit
from earmark.models import get_model
from earmark.pipeline import gated_features


def _clips(root, rows, front, cache):
    out = []
    for r in rows:
        e = cache.get(front, root / r["filename"])
        x = gated_features(e, -60.0, front.window_s)
        out.append(e.vectors if x is None else x)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    print(f"# speaker verification; {machine()}", flush=True)
    t_all = time.perf_counter()
    cache = EmbeddingCache(args.cache_dir)
    sc = data_root() / "speech_commands_dev"
    rows = [r for r in csv.DictReader(open(sc / "metadata.csv")) if r["speaker"]]
    spk, fold = np.array([r["speaker"] for r in rows]), np.array([r["fold"] for r in rows])
    speaker = _clips(sc, rows, get_embedder("speaker"), cache)
    mfcc = np.array([c.reshape(len(c), -1).mean(axis=0) for c in _clips(sc, rows, get_embedder("mfcc"), cache)])
    raw = np.array([unit(c.mean(axis=0)) for c in speaker])
    print(f"{len(rows)} clips, {len(set(spk))} speakers, embedded in {time.perf_counter() - t_all:.0f} s", flush=True)
    results: dict[str, list[dict]] = {}
    for f in sorted(set(fold)):
        tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        mu, sd = mfcc[tr].mean(axis=0), mfcc[tr].std(axis=0) + 1e-9
        t0 = time.perf_counter()
        metric = get_model("metric").fit([speaker[i] for i in tr], spk[tr])
        fit_s = time.perf_counter() - t0
        mlp = get_model("metric", projection="mlp", max_epochs=30).fit([speaker[i] for i in tr], spk[tr])
        encoders = {"mfcc statistics": ((mfcc[tr] - mu) / sd, (mfcc[te] - mu) / sd),
                    "speaker (Resemblyzer) as it is": (raw[tr], raw[te]),
                    "metric (trained here)": (metric.embed_clips([speaker[i] for i in tr]), metric.embed_clips([speaker[i] for i in te])),
                    "metric[projection=mlp; max_epochs=30]": (mlp.embed_clips([speaker[i] for i in tr]), mlp.embed_clips([speaker[i] for i in te]))}
        for name, (train_v, test_v) in encoders.items():
            cal = trials(train_v, spk[tr], enrol=3)
            threshold = equal_error_rate(cal["scores"], cal["is_target"])[1]
            t = trials(test_v, spk[te], enrol=3)
            eer = equal_error_rate(t["scores"], t["is_target"])[0]
            target = t["is_target"]
            row = {"fold": f, "eer": eer, "id10": identification_accuracy(t, spk[te], among=10),
                   "id_all": identification_accuracy(t, spk[te]), "n_enrolled": len(t["speakers"]),
                   "far": float((t["scores"][~target] >= threshold).mean()), "frr": float((t["scores"][target] < threshold).mean()),
                   "threshold": threshold, "fit_seconds": fit_s if name.startswith("metric") else 0.0}
            results.setdefault(name, []).append(row)
            print(f"fold {f} | {name} | EER {eer:.4f} | id among 10 {row['id10']:.3f} | among {row['n_enrolled']} {row['id_all']:.3f} | "
                  f"FAR {row['far']:.3f} FRR {row['frr']:.3f} at the training speakers' threshold", flush=True)
    print("\n| encoder | EER | identification among 10 | among all enrolled (~25) | FAR / FRR at the calibrated threshold |")
    print("| --- | --- | --- | --- | --- |")
    for name, rs in results.items():
        m = {k: np.mean([r[k] for r in rs]) for k in ("eer", "id10", "id_all", "far", "frr")}
        s = np.std([r["eer"] for r in rs])
        print(f"| {name} | {m['eer']:.4f} ± {s:.4f} | {m['id10']:.3f} | {m['id_all']:.3f} | {m['far']:.3f} / {m['frr']:.3f} |")

    fsdd_root = data_root() / "fsdd"
    frows = list(csv.DictReader(open(fsdd_root / "metadata.csv")))
    fspk = np.array([r["speaker"] for r in frows])
    fclips = _clips(fsdd_root, frows, get_embedder("speaker"), cache)
    all_metric = get_model("metric").fit(speaker, spk)
    fsdd = {"speaker (Resemblyzer) as it is": np.array([unit(c.mean(axis=0)) for c in fclips]),
            "metric (trained on speech_commands_dev)": all_metric.embed_clips(fclips)}
    print("\nFSDD speaker identification among 6, by enrolment clips per speaker (10 draws):")
    fsdd_rows = {}
    for name, v in fsdd.items():
        accs = {k: float(np.mean([identification_accuracy(trials(v, fspk, enrol=k, seed=s), fspk) for s in range(10)])) for k in (1, 3, 5)}
        fsdd_rows[name] = accs
        print(f"| {name} | " + " | ".join(f"{k} clips: {a:.4f}" for k, a in accs.items()) + " |")
    total = time.perf_counter() - t_all
    print(f"\nwall time {total:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"speech_commands": results, "fsdd": fsdd_rows, "seconds": total, "machine": machine()}, f, indent=1)


if __name__ == "__main__":
    main()
