"""Latency and CPU of `earmark listen --input FILE` at real-time pace (issue 4).

    python benchmarks/bench_listen.py [--seconds 60]

Plays the first --seconds of the long ESC-10 recording of bench_detect.py
(or, if absent, ESC-10 clips back to back) through `earmark listen` with the
default aisfx model trained on data/demo/train, at real-time pace, and
prints the latency from each window's last sample to its printed result
(median and 95th percentile) and the average CPU load, as `listen` reports
them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from _common import data_root

OUT = Path(__file__).parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    source = OUT / "detect" / "esc10_fold1_long.flac"
    if source.is_file():
        y, sr = sf.read(source, dtype="float32", frames=args.seconds * 44100)
    else:
        clips = sorted((data_root() / "esc10/audio").glob("*.flac"))[: args.seconds // 5 + 1]
        y, sr = np.concatenate([sf.read(c, dtype="float32")[0] for c in clips])[: args.seconds * 44100], 44100
    path = OUT / f"listen_{args.seconds}s.wav"
    sf.write(path, y, sr)
    model = OUT / "demo.earmark"
    earmark = [sys.executable, "-m", "earmark.cli"]
    if not model.is_file():
        subprocess.run(earmark + ["train", "data/demo/train", "--out", str(model), "--quiet"], check=True)
    proc = subprocess.run(earmark + ["listen", str(model), "--input", str(path), "--hop-s", "0.5"], capture_output=True, text=True)
    print("\n".join(proc.stdout.splitlines()[:5]), "\n...")
    print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"no summary (exit {proc.returncode})")


if __name__ == "__main__":
    main()
