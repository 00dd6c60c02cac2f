"""Search latency and approximate recall on a store of over 100,000 windows (issue 12).

    python benchmarks/bench_search.py --work DIR [--hop 0.05] [--queries 200]

The store: ESC-10's 400 clips and four augmented copies of each (pitch +2
and -2 semitones, 10% slower, white noise at 20 dB SNR; written once under
DIR/audio), indexed with aisfx every ``--hop`` seconds on the int8 backend
(calibrated on ESC-10). Queries: ``--queries`` stored windows above -60 dBFS,
drawn with a fixed seed; each asks for its 10 nearest windows.

Two ways of timing, median and 95th percentile over the queries:

- end to end, as ``earmark search`` runs once per process: exact search
  streaming the shards from disk, and approximate search loading the HNSW
  index from disk (after one build, timed separately), both including the
  lookup of the hits' file and times;
- in memory, as a program searching many times would: the normalised
  matrix product and top-k against ``usearch``'s HNSW search.

Recall: the share of the exact 10 nearest that approximate search returns.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from _common import data_root, machine

COPIES = ("pitch_up", "pitch_down", "slower", "noise")


def augmented_copies(esc_audio: Path, work: Path) -> list[Path]:
    import librosa
    import soundfile as sf

    out = []
    rng = np.random.default_rng(0)
    for kind in COPIES:
        folder = work / "audio" / kind
        folder.mkdir(parents=True, exist_ok=True)
        for src in sorted(esc_audio.glob("*.flac")):
            dst = folder / src.name
            out.append(dst)
            if dst.exists():
                continue
            y, sr = sf.read(src, dtype="float32")
            if kind == "pitch_up":
                y = librosa.effects.pitch_shift(y, sr=sr, n_steps=2)
            elif kind == "pitch_down":
                y = librosa.effects.pitch_shift(y, sr=sr, n_steps=-2)
            elif kind == "slower":
                y = librosa.effects.time_stretch(y, rate=0.9)
            else:
                power = float(np.mean(y ** 2)) or 1e-8
                y = y + rng.normal(0, np.sqrt(power / 100), len(y)).astype(np.float32)
            sf.write(dst, np.clip(y, -1, 1), sr)
    return out


def percentiles(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:7.1f} ms, p95 {np.percentile(times, 95) * 1000:7.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--hop", type=float, default=0.05)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    from earmark import api
    from earmark.explore.search import AnnIndex, approximate_search, exact_search
    from earmark.explore.store import Store

    print(machine())
    esc = data_root() / "esc10" / "audio"
    t0 = time.perf_counter()
    augmented_copies(esc, args.work)
    print(f"augmented copies ready in {time.perf_counter() - t0:.0f} s")
    store = args.work / "store"
    t0 = time.perf_counter()
    r = api.index([esc, args.work / "audio"], store, embedder="aisfx", hop_s=args.hop, backend="onnx-int8", calibration=[esc],
                  progress=True)
    took = time.perf_counter() - t0
    st = Store.open(store)
    t = st.table(("file", "level_db"))
    size = sum(p.stat().st_size for p in (store / "shards").glob("*.parquet"))
    print(f"store: {len(t['file']):,} windows x {st.dims} ({len(st.shards())} shards, {size / 1e6:.0f} MB, "
          f"{size / len(t['file']):.0f} B/window); this run indexed {r.windows:,} windows of {r.audio_s:.0f} s in {took:.0f} s "
          f"({r.audio_s / took if took else 0:.0f}x realtime, {r.windows / took if took else 0:.0f} windows/s)")
    vectors = st.vectors()
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    loud = np.flatnonzero(t["level_db"] >= -60)
    queries = np.random.default_rng(1).choice(loud, args.queries, replace=False)

    t0 = time.perf_counter()
    index = AnnIndex(st).build(-60.0)
    print(f"HNSW index (usearch, cosine, f16, M=16, ef_add=128, ef_search=64) built in {time.perf_counter() - t0:.1f} s, "
          f"{len(index):,} windows")

    exact_cli, approx_cli, recall = [], [], []
    for q in queries[: min(30, len(queries))]:  # end to end: disk each time, so fewer
        t0 = time.perf_counter()
        e = exact_search(st, unit[q], 10)
        exact_cli.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        approximate_search(st, unit[q], 10)
        approx_cli.append(time.perf_counter() - t0)
        assert e[0].distance < 1e-5, "a stored window's nearest is itself"
    print(f"end to end, {len(exact_cli)} queries: exact (streams the shards) {percentiles(exact_cli)}; "
          f"approximate (loads the index) {percentiles(approx_cli)}")

    keep = t["level_db"] >= -60
    matrix, rows = unit[keep], np.flatnonzero(keep)
    exact_mem, approx_mem = [], []
    shard_row = (t["shard"].astype(np.int64) << 32) | t["row"].astype(np.int64)
    for q in queries:
        t0 = time.perf_counter()
        sims = matrix @ unit[q]
        top = np.argpartition(-sims, 10)[:10]
        top = top[np.argsort(-sims[top])]
        exact_mem.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found = index.search(unit[q], 10)
        approx_mem.append(time.perf_counter() - t0)
        exact_keys = set(shard_row[rows[top]].tolist())
        recall.append(len(exact_keys & set(int(k) for k in found.keys)) / 10)
    print(f"in memory, {len(queries)} queries over {len(matrix):,} windows: exact {percentiles(exact_mem)}; "
          f"HNSW {percentiles(approx_mem)}; recall@10 of HNSW against exact {np.mean(recall):.3f} "
          f"(min {np.min(recall):.1f})")


if __name__ == "__main__":
    main()
