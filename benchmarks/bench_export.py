"""Issue 11: the aisfx network on onnxruntime (float32, int8) and exported models, against earmark's torch path, on ESC-10.

    python benchmarks/bench_export.py --work DIR [--folds 1,2,3,4,5] [--json out.json]

Measures, in one run on this machine:

* **throughput** of the default embedder from a cold embedding cache over
  all 400 ESC-10 clips (2,000 s of audio: decoding, resampling, log-mel and
  the network), for the torch, onnx and onnx-int8 backends; one-off set-up
  (building the ONNX graphs, int8 calibration) is timed apart, since it
  runs once per machine and calibration set;
* **accuracy** on the official folds, logreg head, for each held-out fold:
  torch embeddings for training and test (earmark's figure); the int8
  backend for both (calibrated on the training folds' recordings only); a
  head trained on float32 embeddings run on int8 test embeddings (what an
  int8 export does); and the exported ONNX graphs themselves (float32 and
  int8, calibrated on the training folds), run by the stand-alone runner;
* **size and latency** per window of the exported graphs against earmark's
  own path (``earmark bench``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from _common import data_root, machine


def clips_of(root: Path):
    rows = list(csv.DictReader(open(root / "metadata.csv")))
    return [(root / r["filename"], r["label"], r["fold"]) for r in rows]


def embed_all(front, paths) -> tuple[dict, float]:
    """Every clip's embedding with the cache off (cold); wall seconds."""
    start = time.perf_counter()
    out = {p: front.embed_file(p) for p in paths}
    return out, time.perf_counter() - start


def fit_head(embs, paths, labels, window_s: float):
    """logreg on the clips' windows, gated as ``earmark train`` gates them (-60 dBFS)."""
    from earmark.models import get_model
    from earmark.pipeline import gated_features

    est = get_model("logreg")
    windows = [gated_features(embs[p], -60.0, window_s) for p in paths]
    keep = [i for i, w in enumerate(windows) if w is not None]
    est.fit([windows[i] for i in keep], np.array([labels[i] for i in keep]))
    return est


def accuracy(model, embs, paths, labels) -> float:
    """Clip accuracy of ``model`` on the given embeddings (gated as ``earmark predict`` gates them)."""
    preds = [model._clip_proba(embs[p]) for p in paths]
    return float(np.mean([p is not None and model.classes[int(np.argmax(p))] == t for p, t in zip(preds, labels)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (graphs, exported models)")
    ap.add_argument("--folds", default="1,2,3,4,5")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    graphs = args.work / "graph-cache"
    shutil.rmtree(graphs, ignore_errors=True)  # the built graphs live here: set-up is measured cold
    os.environ["EARMARK_CACHE_DIR"] = str(graphs)
    from earmark import api
    from earmark.embeddings import get_embedder
    from earmark.export.runner import Runner
    from earmark.pipeline import Model

    root = data_root() / "esc10"
    clips = clips_of(root)
    paths = [c[0] for c in clips]
    audio_s = 5.0 * len(paths)
    print(f"# {machine()}; ESC-10: {len(paths)} clips, {audio_s:.0f} s of audio")
    result = {"machine": machine(), "throughput": {}, "folds": {}}

    # --- throughput, cold cache -------------------------------------------------------------
    torch_front = get_embedder("aisfx", backend="torch")
    t = time.perf_counter()
    torch_front.embed_file(paths[0])
    setup = {"torch": time.perf_counter() - t}
    fold1 = [c[0] for c in clips if c[2] == "1"]
    onnx_front = get_embedder("aisfx", backend="onnx")
    t = time.perf_counter()
    onnx_front.embed_file(paths[0])
    setup["onnx"] = time.perf_counter() - t
    t = time.perf_counter()
    int8_front = get_embedder("aisfx", backend="onnx-int8", calibration=fold1)
    int8_front.embed_file(paths[0])
    setup["onnx-int8"] = time.perf_counter() - t
    embs = {}
    for name, front in (("torch", torch_front), ("onnx", onnx_front), ("onnx-int8", int8_front)):
        embs[name], wall = embed_all(front, paths)
        result["throughput"][name] = {"wall_s": wall, "x_realtime": audio_s / wall, "setup_s": setup[name]}
        print(f"throughput {name:<10} {audio_s / wall:6.1f}x realtime ({wall:.1f} s for {audio_s:.0f} s; one-off set-up {setup[name]:.1f} s)")
    ref = embs["torch"]
    diff = max(float(np.abs(embs["onnx"][p].vectors - ref[p].vectors).max()) for p in paths)
    print(f"onnx float32 embeddings vs torch: max abs difference {diff:.2e}")
    result["onnx_max_abs_diff"] = diff

    # --- accuracy per held-out fold ------------------------------------------------------------
    rows = []
    for k in args.folds.split(","):
        train = [(p, lab) for p, lab, f in clips if f != k]
        test = [(p, lab) for p, lab, f in clips if f == k]
        tr_p, tr_y = [p for p, _ in train], [lab for _, lab in train]
        te_p, te_y = [p for p, _ in test], [lab for _, lab in test]
        est = fit_head(ref, tr_p, tr_y, torch_front.window_s)
        fp32_model = Model(torch_front, est, "logreg", -60.0, {"data": {"root": str(root)}})
        row = {"fold": k, "torch": accuracy(fp32_model, ref, te_p, te_y)}
        int8_k = get_embedder("aisfx", backend="onnx-int8", calibration=tr_p)  # calibrated on the training folds only
        e8 = {p: int8_k.embed_file(p) for p in paths}
        int8_model = Model(int8_k, fit_head(e8, tr_p, tr_y, int8_k.window_s), "logreg", -60.0, {})
        row["int8 backend"] = accuracy(int8_model, e8, te_p, te_y)
        row["fp32 head on int8"] = accuracy(fp32_model, e8, te_p, te_y)
        exported = {}
        for name, int8 in (("onnx fp32 export", False), ("onnx int8 export", True)):
            out = args.work / f"fold{k}-{'int8' if int8 else 'fp32'}.onnx"
            record = api.export(fp32_model, out, int8=int8, calibration=tr_p if int8 else None)
            runner = Runner(out)
            t = time.perf_counter()
            labels = [runner.predict_file(p)["label"] for p in te_p]
            run_s = time.perf_counter() - t
            row[name] = float(np.mean([a == b for a, b in zip(labels, te_y)]))
            exported[name] = {"bytes": record["bytes"], "runner_x_realtime": 5.0 * len(te_p) / run_s}
        row["exported"] = exported
        rows.append(row)
        print(f"fold {k}: " + ", ".join(f"{n} {v:.4f}" for n, v in row.items() if isinstance(v, float)))
    keys = ["torch", "int8 backend", "fp32 head on int8", "onnx fp32 export", "onnx int8 export"]
    means = {n: float(np.mean([r[n] for r in rows])) for n in keys}
    print("mean accuracy: " + ", ".join(f"{n} {v:.4f}" for n, v in means.items()))
    for n in keys[1:]:
        print(f"  {n}: {100 * (means[n] - means['torch']):+.2f} points against torch")
    result["folds"] = rows
    result["mean_accuracy"] = means

    # --- size and latency per window (earmark bench) ----------------------------------------------
    bench = api.bench(fp32_model, int8=True, calibration=[p for p, _, f in clips if f != args.folds.split(",")[-1]], windows=64)
    for r in bench:
        print(f"bench {r['runtime']:<10} {'' if r['bytes'] is None else r['bytes']:>10} bytes  {r['ms_per_window']:6.2f} ms/window  "
              f"{r['x_realtime']:6.1f}x realtime")
    result["bench"] = bench
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
