"""Start-up of the command line (issue 11): whole new processes, median of ``--runs``.

    python benchmarks/bench_startup.py [--runs 5] [--model M.earmark --clip CLIP]

- ``earmark --help``: what a user waits for before anything happens;
- ``python -c "import earmark.api"``: the API loads its modules on first use, so this costs nothing;
- ``python -c "import earmark"`` and ``earmark models`` (which needs the model registry, so scikit-learn and torch);
- with ``--model`` and ``--clip``: ``earmark predict MODEL CLIP --no-cache`` end to end (after one run that builds the
  ONNX graph, once per machine), against the same command with ``--backend torch`` (the previous release's runtime),
  and where its time goes (one fresh process that times each stage: importing, loading the model file, the first
  prediction).
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
    ap.add_argument("--model", type=Path, default=None, help="a model file, e.g. from 'make demo'")
    ap.add_argument("--clip", type=Path, default=None)
    args = ap.parse_args()
    wall([str(BIN / "earmark"), "--help"], 1)  # warm the page cache once
    rows = {
        "earmark --help": [str(BIN / "earmark"), "--help"],
        "python -c 'import earmark'": [sys.executable, "-c", "import earmark"],
        "python -c 'import earmark.api' (loads its modules on first use)": [sys.executable, "-c", "import earmark.api"],
        "earmark models": [str(BIN / "earmark"), "models"],
    }
    if args.model and args.clip:
        predict = [str(BIN / "earmark"), "predict", str(args.model), str(args.clip), "--no-cache"]
        subprocess.run(predict, check=True, capture_output=True)  # builds the ONNX graph once (kept in the user cache)
        rows[f"earmark predict {args.model.name} {args.clip.name} --no-cache"] = predict
        # the previous release's runtime, in the same run: the network on torch (TorchScript)
        rows["reference: the same predict --backend torch"] = [*predict, "--backend", "torch"]
    got = {name: wall(cmd, args.runs) for name, cmd in rows.items()}
    ref_name = "reference: the same predict --backend torch" if args.model and args.clip else "earmark --help"
    for name, s in got.items():
        print(f"{name:60s} {s:6.3f} s  ({s / got[ref_name]:.2f} x {ref_name})")
    if args.model and args.clip:
        print("stages of predict in one new process:",
              subprocess.run([sys.executable, "-c", STAGES, str(args.model), str(args.clip)], check=True, capture_output=True,
                             text=True).stdout.strip())


STAGES = """
import sys, time
t0 = time.perf_counter()
from earmark.api import predict
from earmark.pipeline import Model
t1 = time.perf_counter()
m = Model.load(sys.argv[1])  # skops (imported without torch, see earmark.persistence._import_skops)
t2 = time.perf_counter()
predict(m, [sys.argv[2]], use_cache=False)
t3 = time.perf_counter()
print(f"import earmark.api.predict + pipeline (scikit-learn) {t1 - t0:.2f} s, Model.load {t2 - t1:.2f} s, "
      f"first predict (decode, onnxruntime session, embedding) {t3 - t2:.2f} s; torch imported: {'torch' in sys.modules}")
"""


if __name__ == "__main__":
    main()
