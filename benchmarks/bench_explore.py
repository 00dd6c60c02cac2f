"""The collection explorer on ESC-10 (issue 12): index throughput and size, retrieval, clusters.

    python benchmarks/bench_explore.py --work DIR [--embedders mfcc,aisfx,birdnet,speech,aisfx+mfcc] [--json OUT]

For each front end, ESC-10 (400 clips, 2,000 s) is indexed into a new store
with its labels (``earmark.api.index``, a cold start: the store does not read
the embedding cache), timed, and measured on disk. Then every clip is a query
against the other 399, ranked two ways:

- ``windows``: a clip's distance to another is that of their nearest pair of
  windows (what ``earmark search`` does: a window's distance is to the
  nearest query window), windows below -60 dBFS left out;
- ``clip mean``: cosine distance between the clips' mean (normalised) window embeddings.

Figures: precision at 5 (share of the 5 nearest clips with the query's
label) and mean average precision (39 relevant clips per query). Clusters:
k-means with the true number of classes and scikit-learn's HDBSCAN, on the
clip means, against the labels (adjusted Rand index, NMI; HDBSCAN's noise
points count as one more cluster, and its share is printed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from _common import data_root, machine


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def clip_vectors(store) -> tuple[list[str], np.ndarray, list[np.ndarray], np.ndarray]:
    """Files, labels, each file's normalised loud windows (all if none is loud), clip means."""
    t, v = store.table(), _unit(store.vectors())
    files = sorted(set(t["file"].tolist()))
    labels, windows, means = [], [], []
    for f in files:
        rows = np.flatnonzero(t["file"] == f)
        loud = rows[t["level_db"][rows] >= -60] if (t["level_db"][rows] >= -60).any() else rows
        windows.append(v[loud])
        means.append(_unit(v[loud].mean(axis=0)))
        labels.append(t["label"][rows[0]])
    return files, np.array(labels), windows, np.array(means)


def retrieval(distance: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Precision at 5 and mean average precision, every clip a query against all others."""
    p5, aps = [], []
    for i in range(len(labels)):
        d = distance[i].copy()
        d[i] = np.inf
        order = np.argsort(d, kind="stable")[:-1]
        rel = labels[order] == labels[i]
        p5.append(rel[:5].mean())
        hits = np.flatnonzero(rel)
        aps.append(np.mean((np.arange(len(hits)) + 1) / (hits + 1)) if len(hits) else 0.0)
    return float(np.mean(p5)), float(np.mean(aps))


def window_distances(windows: list[np.ndarray]) -> np.ndarray:
    """Clip-to-clip distance: 1 - the largest cosine between any window of one and any of the other."""
    allw = np.concatenate(windows)
    owner = np.repeat(np.arange(len(windows)), [len(w) for w in windows])
    sims = allw @ allw.T
    n = len(windows)
    best = np.full((n, n), -np.inf)
    for j in range(n):  # max over the columns of clip j, then over the rows of each clip
        col = sims[:, owner == j].max(axis=1)
        best[:, j] = np.maximum.reduceat(col, np.r_[0, np.cumsum([len(w) for w in windows])[:-1]])
    return 1.0 - best


def clusters(means: np.ndarray, labels: np.ndarray) -> dict:
    from sklearn.cluster import HDBSCAN, KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    k = len(set(labels))
    km = KMeans(k, n_init=10, random_state=0).fit_predict(means)
    hd = HDBSCAN(min_cluster_size=5, copy=True).fit_predict(means)
    return {"kmeans_ari": adjusted_rand_score(labels, km), "kmeans_nmi": normalized_mutual_info_score(labels, km),
            "hdbscan_ari": adjusted_rand_score(labels, hd), "hdbscan_nmi": normalized_mutual_info_score(labels, hd),
            "hdbscan_clusters": int(hd.max() + 1), "hdbscan_noise": float((hd < 0).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the stores (emptied first)")
    ap.add_argument("--embedders", default="mfcc,aisfx,birdnet,speech,aisfx+mfcc")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from earmark import api
    from earmark.explore.store import Store

    print(machine())
    esc = data_root() / "esc10"
    shutil.rmtree(args.work, ignore_errors=True)
    results = {}
    for name in args.embedders.split(","):
        store = args.work / name.replace("+", "-")
        t0 = time.perf_counter()
        report = api.index(esc / "audio", store, embedder=name, labels=esc / "metadata.csv")
        seconds = time.perf_counter() - t0
        st = Store.open(store)
        size = sum(p.stat().st_size for p in (store / "shards").glob("*.parquet"))
        files, labels, windows, means = clip_vectors(st)
        assert len(files) == 400 and (labels != "").all(), "ESC-10's 400 labelled clips should all be indexed"
        p5_w, map_w = retrieval(window_distances(windows), labels)
        p5_m, map_m = retrieval(1.0 - means @ means.T, labels)
        row = {"windows": report.windows, "dims": st.dims, "index_s": seconds, "x_realtime": report.audio_s / seconds,
               "bytes": size, "bytes_per_window": size / report.windows, "bytes_per_hour": size / report.audio_s * 3600,
               "p5_windows": p5_w, "map_windows": map_w, "p5_mean": p5_m, "map_mean": map_m, **clusters(means, labels)}
        results[name] = row
        print(f"{name:12s} {row['windows']:6d} windows x {row['dims']:4d}: indexed in {seconds:6.1f} s ({row['x_realtime']:5.0f}x "
              f"realtime), {row['bytes_per_window']:6.0f} B/window, {row['bytes_per_hour'] / 1e6:6.1f} MB/hour | "
              f"P@5 {p5_w:.3f} / {p5_m:.3f}, mAP {map_w:.3f} / {map_m:.3f} (windows / clip mean) | "
              f"k-means ARI {row['kmeans_ari']:.3f} NMI {row['kmeans_nmi']:.3f}, HDBSCAN ARI {row['hdbscan_ari']:.3f} "
              f"NMI {row['hdbscan_nmi']:.3f} ({row['hdbscan_clusters']} clusters, {row['hdbscan_noise']:.0%} noise)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
