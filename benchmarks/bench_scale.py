"""earmark index on a local Dask cluster against one process (issue 14).

    python benchmarks/bench_scale.py --work DIR [--hours 5] [--embedder aisfx] [--workers 1,2]
    python benchmarks/bench_scale.py --work DIR --hours 5 --recording-minutes 300 --workers 2   # one 5-hour recording

Builds ``--hours`` of audio from ESC-10: recordings of ``--recording-minutes`` (default 10; 44.1 kHz FLAC),
each ESC-10 clips in a seeded order, so every recording differs; then
indexes them into a new store three ways, each a cold start: the
single-process path (``earmark.api.index``), and a local cluster on
127.0.0.1 with 1 and with 2 worker processes (``workers=N``; the cluster's
start-up is included; a recording of at least two ``--stretch-s``, default 600 s, is
cut into stretches for the workers). Prints wall time, x realtime, the ratio to the single
process, and whether each store holds exactly the single-process store's rows
(same files and window starts, embeddings equal within 1e-5). Then
``earmark.api.detect`` with a model trained here on the demo clips (aisfx +
logistic regression) over the same recordings, in one process and on 2
workers: wall time, x realtime, whether every recording has the same events
(start, end, label), and the largest difference in their scores.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from _common import data_root, machine

def build(folder: Path, hours: float, minutes: float = 10.0) -> list[Path]:
    """``hours`` of ``minutes``-long recordings made of 5-s ESC-10 clips (made once, kept in ``folder``)."""
    clips = sorted((data_root() / "esc10").rglob("*.flac"))
    if not clips:
        raise SystemExit(f"no ESC-10 clips under {data_root() / 'esc10'}")
    per_recording = int(round(minutes * 60 / 5))
    n = int(np.ceil(hours * 3600 / (per_recording * 5)))
    folder.mkdir(parents=True, exist_ok=True)
    audio = {}
    out = []
    for i in range(n):
        path = folder / f"recording-{i:03d}.flac"
        out.append(path)
        if path.exists():
            continue
        order = np.random.default_rng(i).choice(len(clips), per_recording, replace=per_recording > len(clips))
        parts = []
        for j in order:
            if j not in audio:
                y, sr = sf.read(clips[j], dtype="float32", always_2d=True)
                audio[j] = (y.mean(axis=1), sr)
            parts.append(audio[j][0])
        sf.write(path, np.concatenate(parts), audio[order[0]][1], subtype="PCM_16")
    return out


def rows(store: Path):
    from earmark.explore.store import Store

    st = Store.open(store)
    t = st.table(("file", "start_s"))
    order = np.lexsort((t["start_s"], t["file"]))
    return [(str(f), round(float(s), 4)) for f, s in zip(t["file"][order], t["start_s"][order])], st.vectors()[order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--hours", type=float, default=5.0)
    ap.add_argument("--embedder", default="aisfx")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--recording-minutes", type=float, default=10.0)
    ap.add_argument("--stretch-s", type=float, default=None, help="stretch length on the cluster (default: earmark's, 600 s)")
    ap.add_argument("--detect", action=argparse.BooleanOptionalAction, default=True, help="also detect events (one process, 2 workers)")
    args = ap.parse_args()

    from earmark import api

    t = time.perf_counter()
    files = build(args.work / "recordings", args.hours, args.recording_minutes)
    audio_s = sum(sf.info(f).duration for f in files)
    print(f"{machine()}\n{len(files)} recordings, {audio_s / 3600:.2f} h of audio (built in {time.perf_counter() - t:.0f} s)")
    results = []
    for workers in [None, *(int(w) for w in args.workers.split(","))]:
        store = args.work / f"store-{workers or 'single'}"
        shutil.rmtree(store, ignore_errors=True)
        t = time.perf_counter()
        report = api.index(args.work / "recordings", store, embedder=args.embedder, workers=workers,
                           stretch_s=args.stretch_s if workers else None)
        seconds = time.perf_counter() - t
        results.append((workers, seconds, report.windows, store))
        print(f"  {'one process' if workers is None else f'{workers} worker(s)'}: {seconds:.1f} s, "
              f"{audio_s / seconds:.0f}x realtime, {report.windows:,} windows, {len(report.skipped)} skipped", flush=True)
    if args.detect:
        detect_runs(args, audio_s)
    ref_keys, ref_vecs = rows(results[0][3])
    print("\n| path | seconds | x realtime | vs one process | same rows |\n| --- | --- | --- | --- | --- |")
    for workers, seconds, _, store in results:
        keys, vecs = rows(store)
        same = keys == ref_keys and np.allclose(vecs, ref_vecs, rtol=0, atol=1e-5)
        name = "one process" if workers is None else f"local cluster, {workers} worker{'s' if workers > 1 else ''}"
        print(f"| {name} | {seconds:.1f} | {audio_s / seconds:.0f} | {results[0][1] / seconds:.2f}x | {'yes' if same else 'NO'} |")


def detect_runs(args, audio_s: float) -> None:
    import earmark
    from earmark import api

    model = earmark.train("data/demo/train", embedder=args.embedder, classifier="logreg").save(args.work / "demo.earmark")
    runs = []
    for workers in (None, 2):
        out = args.work / f"events-{workers or 'single'}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        batch = api.detect(model, args.work / "recordings", out_dir=out, workers=workers, stretch_s=args.stretch_s if workers else None)
        seconds = time.perf_counter() - t
        events = sum(len(r["events"]) for r in batch.records)
        runs.append((workers, seconds, out, events))
        print(f"  detect, {'one process' if workers is None else f'{workers} workers'}: {seconds:.1f} s, {audio_s / seconds:.0f}x "
              f"realtime, {events} events in {len(batch.records)} recordings", flush=True)
    ref = events_of(runs[0][2])
    print("\n| detect | seconds | x realtime | vs one process | events | same events (start, end, label) | largest score difference |"
          "\n| --- | --- | --- | --- | --- | --- | --- |")
    for workers, seconds, out, events in runs:
        got = events_of(out)
        same = {k: [e[:3] for e in v] for k, v in got.items()} == {k: [e[:3] for e in v] for k, v in ref.items()}
        diff = max((abs(float(x) - float(y)) for k in ref for a, b in zip(ref[k], got.get(k, [])) for x, y in zip(a[3:], b[3:])),
                   default=0.0)
        name = "one process" if workers is None else f"local cluster, {workers} workers"
        print(f"| {name} | {seconds:.1f} | {audio_s / seconds:.0f} | {runs[0][1] / seconds:.2f}x | {events} | {'yes' if same else 'NO'} | "
              f"{diff:.1e} |")


def events_of(folder: Path) -> dict[str, list[list[str]]]:
    """Each event file's rows (start_s, end_s, label, scores...). Scores may differ in the 7th digit between runs on
    different thread counts (float32 sums in another order); the events themselves must not."""
    import csv

    return {p.name: list(csv.reader(open(p)))[1:] for p in sorted(folder.glob("*.csv"))}


if __name__ == "__main__":
    main()
