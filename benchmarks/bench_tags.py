"""Multi-label tagging and weakly supervised localisation on ESC-10 mixtures (issue 9).

    python benchmarks/bench_tags.py --work DIR [--cache-dir DIR] [--max-epochs 100]

1. ``earmark.api.mix`` makes 10-s mixtures with up to three events (``max_events=3``, ``event_rate=0.8``) of four
   ESC-10 event classes (dog, rooster, crying_baby, sneezing) in backgrounds of the five ambient classes, EBR -6/0/6 dB:
   300 training and 300 test mixtures whose source recordings are disjoint (all five folds dealt to the splits).
2. Tagging: each model is trained on the training split (``earmark.api.train``) and scores the test split, reporting mAP,
   macro ROC-AUC and per-tag AUC for aisfx + logistic regression (one-vs-rest; window scores mean- or max-pooled), aisfx + MLP, and
   lstm-tagger on MFCC frames (linear-softmax pooling, and max pooling).
3. Localisation: each model trained on the weak (clip) labels runs ``detect`` on every test mixture (no exclusivity:
   tags may overlap); every true event of ``events.csv`` is matched to the detected event of its tag that overlaps it
   most. Printed: the share of true events found, the median and mean onset error of the found ones, and the DCASE
   event-based F1 (onset collar 0.5 s, offset collar max(0.5 s, half the event)).
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
from earmark.data.labels import Event
from earmark.embeddings import EmbeddingCache
from earmark.evaluation.cv import tag_metrics
from earmark.models.base import tag_matrix
from earmark.evaluation.events import event_based
from earmark.inference.detect import DetectionSettings, detect

EVENTS = ["dog", "rooster", "crying_baby", "sneezing"]
BACKGROUNDS = ["rain", "sea_waves", "crackling_fire", "helicopter", "chainsaw"]


def _mixtures(work: Path) -> Path:
    out = work / "tags"
    if not (out / "metadata.csv").is_file():
        esc = data_root() / "esc10"
        api.mix(esc, esc, out, splits={"train": 300, "test": 300}, duration_s=10.0, ebr_db=(-6.0, 0.0, 6.0), event_rate=0.8,
                max_events=3, background_classes=BACKGROUNDS, event_classes=EVENTS, seed=3)
    return out


def _truth(mixtures: Path) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for r in csv.DictReader(open(mixtures / "events.csv")):
        out.setdefault(r["filename"], []).append(Event(float(r["onset_s"]), float(r["offset_s"]), r["label"]))
    return out


def _localise(model, mixtures: Path, tests: list[str], truth: dict, settings: DetectionSettings, hop_s: float | None, cache_dir) -> dict:
    cache = EmbeddingCache(cache_dir)
    found, onset_err, refs, ests = 0, [], [], []
    n_true = 0
    for name in tests:
        r = detect(model, mixtures / name, settings=settings, hop_s=hop_s, cache=cache)
        offset = 1000.0 * len(refs)  # one timeline for the event-based metric: recordings laid end to end
        true = truth.get(name, [])
        n_true += len(true)
        for e in true:
            cands = [d for d in r["events"] if d.label == e.label and d.start_s < e.end_s and d.end_s > e.start_s]
            if cands:
                best = max(cands, key=lambda d: min(d.end_s, e.end_s) - max(d.start_s, e.start_s))
                found += 1
                onset_err.append(abs(best.start_s - e.start_s))
        refs.append([Event(e.start_s + offset, e.end_s + offset, e.label) for e in true])
        ests.append([Event(d.start_s + offset, d.end_s + offset, d.label) for d in r["events"]])
    ev = event_based([e for x in refs for e in x], [e for x in ests for e in x], onset_collar_s=0.5, offset_collar_s=0.5)
    err = np.array(onset_err)
    return {"true_events": n_true, "found": found / max(n_true, 1), "onset_median_s": float(np.median(err)) if len(err) else None,
            "onset_mean_s": float(err.mean()) if len(err) else None, "event_f1": ev["f1"], "event_precision": ev["precision"],
            "event_recall": ev["recall"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"# multi-label tagging and localisation on ESC-10 mixtures; {machine()}", flush=True)
    t_all = time.perf_counter()
    mixtures = _mixtures(work)
    rows = list(csv.DictReader(open(mixtures / "metadata.csv")))
    tests = [r["filename"] for r in rows if r["split"] == "test"]
    n_tags = [len([t for t in r["label"].split(";") if t]) for r in rows]
    print(f"{len(rows)} mixtures, tags per mixture: " + ", ".join(f"{k}: {n_tags.count(k)}" for k in sorted(set(n_tags))), flush=True)
    truth = _truth(mixtures)
    labels = {r["filename"]: r["label"] for r in rows}
    tagger = {"max_epochs": args.max_epochs}
    configs = [("aisfx + logreg", "logreg", None, 0.25), ("aisfx + logreg (max)", "logreg", {"aggregation": "max"}, 0.25),
               ("aisfx + mlp", "mlp", None, 0.25),
               ("lstm-tagger (linsoft)", "lstm-tagger", tagger, None), ("lstm-tagger (max)", "lstm-tagger", {**tagger, "aggregation": "max"}, None)]
    settings = {"network": DetectionSettings(threshold=0.5, exclusive=False, median_windows=9, min_duration_s=0.1, merge_gap_s=0.2),
                "head": DetectionSettings(threshold=0.5, exclusive=False, median_windows=3, min_duration_s=0.0, merge_gap_s=0.2)}
    results = []
    for name, model, params, hop_s in configs:
        t0 = time.perf_counter()
        m = api.train(mixtures, model=model, embedder="aisfx", folds="split", train_folds=["train"], cache_dir=args.cache_dir,
                      model_params=params)
        proba = m.predict_proba([mixtures / n for n in tests], cache=EmbeddingCache(args.cache_dir))
        tags = list(m.classes)
        heard = ~np.isnan(proba).any(axis=1)  # a mixture with no window above the -60 dBFS gate is silent to the model:
        proba[~heard] = 0.0                    # it hears none of the tags
        truth_m = tag_matrix([labels[n] for n in tests], tags)
        decided = (proba >= m.estimator.thresholds_[None, :]).astype(float)
        tm = tag_metrics(truth_m, proba, decided, tags)
        t1 = time.perf_counter()
        loc = _localise(m, mixtures, tests, truth, settings["head" if hop_s else "network"], hop_s, args.cache_dir)
        history = getattr(m.estimator, "history_", {}) or {}
        row = {"model": name, "silent_test_mixtures": int((~heard).sum()), "mAP": tm["mAP"], "macro_auc": tm["macro_auc"], "exact_match": float((decided == truth_m).all(axis=1).mean()),
               "per_tag_auc": {t: v["roc_auc"] for t, v in tm["per_tag"].items()},
               "per_tag_f1": {t: v["f1"] for t, v in tm["per_tag"].items()}, "epochs": len(history.get("epochs", [])) or None,
               **loc, "seconds_train_tag": t1 - t0, "seconds_localise": time.perf_counter() - t1}
        results.append(row)
        print(f"{name}: mAP {row['mAP']:.3f}, macro AUC {row['macro_auc']:.3f}, exact match {row['exact_match']:.3f}, per-tag AUC "
              + ", ".join(f"{t} {v:.3f}" for t, v in row["per_tag_auc"].items())
              + f" | events found {loc['found']:.3f}, onset error median {loc['onset_median_s']:.2f} s mean {loc['onset_mean_s']:.2f} s, "
              f"event F1 {loc['event_f1']:.3f} | {t1 - t0:.0f} + {time.perf_counter() - t1:.0f} s", flush=True)
    print("\n| model | mAP | macro ROC-AUC | " + " | ".join(f"AUC {t}" for t in EVENTS) +
          " | events found | onset error median / mean (s) | event F1 (0.5 s collar) |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in EVENTS) + " | --- | --- | --- |")
    for row in results:
        print(f"| {row['model']} | {row['mAP']:.3f} | {row['macro_auc']:.3f} | " + " | ".join(f"{row['per_tag_auc'][t]:.3f}" for t in EVENTS)
              + f" | {row['found']:.3f} | {row['onset_median_s']:.2f} / {row['onset_mean_s']:.2f} | {row['event_f1']:.3f} |")
    total = time.perf_counter() - t_all
    print(f"total {total / 60:.1f} min")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "seconds": total, "machine": machine()}, indent=1))


if __name__ == "__main__":
    main()
