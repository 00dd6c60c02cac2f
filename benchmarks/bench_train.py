"""Issue 11: a cold ``earmark train`` on ESC-10 (400 clips, 2,000 s of audio) end to end, as new processes.

    python benchmarks/bench_train.py --work DIR [--runs 1]

Every run is a new ``earmark train ESC10 --out M --no-cache`` process (no
embedding cache: every clip decoded and embedded). Rows:

* ``--backend torch``: the previous release's runtime, the reference, in the same run;
* the default (``auto``: onnxruntime), with its ONNX graph already built
  (the usual case: once per machine) and on a machine that has never built
  it (an empty graph cache: the export is part of the run);
* ``--backend onnx-int8``, calibrated on the training clips, with an empty
  graph cache (the calibration is part of the run; it is every such train).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import data_root

BIN = Path(sys.executable).parent


def run(cmd: list[str], cache: Path, *, fresh: bool) -> float:
    if fresh:
        shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "EARMARK_CACHE_DIR": str(cache)}
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    esc10 = data_root() / "esc10"
    base = [str(BIN / "earmark"), "train", str(esc10), "--out", str(args.work / "m.earmark"), "--no-cache", "-q"]
    warm, fresh = args.work / "graphs-warm", args.work / "graphs-fresh"
    run([*base], warm, fresh=True)  # builds the float32 graph once into the warm cache
    rows = {
        "reference: --backend torch": ([*base, "--backend", "torch"], warm, False),
        "default (onnxruntime), graph built before": (base, warm, False),
        "default, first run on a machine (graph export included)": (base, fresh, True),
        "--backend onnx-int8 (calibration included)": ([*base, "--backend", "onnx-int8"], fresh, True),
    }
    got = {name: statistics.median(run(cmd, cache, fresh=f) for _ in range(args.runs)) for name, (cmd, cache, f) in rows.items()}
    ref = got["reference: --backend torch"]
    for name, s in got.items():
        print(f"{name:58s} {s:6.1f} s  ({s / ref:.2f} x the reference)")


if __name__ == "__main__":
    main()
