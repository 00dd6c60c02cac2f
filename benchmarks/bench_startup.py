"""Start-up of the command line (issue 11): whole new processes, median of ``--runs``.

    python benchmarks/bench_startup.py [--runs 5]

- ``earmark --help``: what a user waits for before anything happens;
- the reference, measured in the same run: ``python -c "import earmark.api"``, which is what every command (``--help``
  included) imported before ``earmark`` loaded its API lazily;
- ``python -c "import earmark"`` and ``earmark models`` (which needs the model registry, so scikit-learn and torch).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    wall([str(BIN / "earmark"), "--help"], 1)  # warm the page cache once
    rows = {
        "earmark --help": [str(BIN / "earmark"), "--help"],
        "python -c 'import earmark'": [sys.executable, "-c", "import earmark"],
        "reference: python -c 'import earmark.api'": [sys.executable, "-c", "import earmark.api"],
        "earmark models": [str(BIN / "earmark"), "models"],
    }
    got = {name: wall(cmd, args.runs) for name, cmd in rows.items()}
    ref = got["reference: python -c 'import earmark.api'"]
    for name, s in got.items():
        print(f"{name:45s} {s:6.3f} s  ({s / ref:.2f} x the reference)")


if __name__ == "__main__":
    main()
