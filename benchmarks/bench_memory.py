"""Peak memory and speed of `earmark predict` (or `detect`) on a 60-minute recording.

    python benchmarks/bench_memory.py [--minutes 60] [--command predict|detect]

Builds a 60-minute 44.1 kHz FLAC from ESC-10 clips (under benchmarks/out/),
trains a model on the demo clips, and runs `earmark predict` in a child
process; prints its wall time and peak RSS (ru_maxrss of the child).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

from _common import data_root

OUT = Path(__file__).parent / "out"


def long_file(minutes: int) -> Path:
    path = OUT / f"long_{minutes}min.flac"
    if path.is_file():
        return path
    OUT.mkdir(exist_ok=True)
    clips = sorted((data_root() / "esc10/audio").glob("*.flac"))
    need = minutes * 60 * 44100
    with sf.SoundFile(path, "w", 44100, 1, format="FLAC", subtype="PCM_16") as f:
        written, i = 0, 0
        while written < need:
            y, _ = sf.read(clips[i % len(clips)], dtype="float32")
            y = y[: need - written]
            f.write(y)
            written += len(y)
            i += 1
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--command", choices=["predict", "detect"], default="predict")
    args = ap.parse_args()
    path = long_file(args.minutes)
    model = OUT / "demo.earmark"
    earmark = [sys.executable, "-m", "earmark.cli"]
    if not model.is_file():
        subprocess.run(earmark + ["train", "data/demo/train", "--out", str(model), "--quiet"], check=True)
    t = time.perf_counter()
    # predict without the cache: a warm cache would skip the decoding and the network that this measures
    extra = ["--format", "csv"] + (["--out", str(OUT)] if args.command == "detect" else ["--no-cache"])
    proc = subprocess.run(earmark + [args.command, str(model), str(path), "--quiet", *extra], capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(proc.stdout.strip())
    if proc.returncode:
        raise SystemExit(proc.stderr)
    print(f"{args.command} on {args.minutes} min: {wall:.1f} s wall ({args.minutes * 60 / wall:.1f}x realtime), peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
