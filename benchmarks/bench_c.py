"""Issue 11: MFCC + small heads exported to C (``earmark export --format c``) against earmark itself, on FSDD digits.

    python benchmarks/bench_c.py --work DIR [--heads logreg,mlp,rf] [--json out.json]

For each head: train on FSDD's official train split (mfcc front end),
export the C header, compile the example program with the system compiler
(``cc -O2``), and classify every test-split clip with both. Prints test
accuracy of each, how often they agree, the header and compiled sizes
(``size``: code, and the static RAM the program keeps), latency per window
in C (the program's own clock) against earmark's Python path on the same
windows, and an estimate for a Cortex-M4F from the operation count.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from _common import data_root

M4_HZ = 80e6  # a Cortex-M4F at 80 MHz (nRF52840 / STM32L4 class)
CYCLES_PER_FLOP = 2.0  # single-precision FPU: about one multiply-add per 1-2 cycles once loads are counted; stated, not measured


def split_dataset(fsdd: Path, dest: Path, split: str) -> tuple[Path, list[tuple[Path, str]]]:
    rows = [r for r in csv.DictReader(open(fsdd / "metadata.csv")) if r["split"] == split]
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label"])
        for r in rows:
            w.writerow([str(fsdd / r["filename"]), r["digit"]])
    return dest, [(fsdd / r["filename"], r["digit"]) for r in rows]


def flops_per_window(front, n_lut: int, head_flops: int) -> int:
    """Floating-point operations for one window: FFTs, power, mel, log, DCT, statistics, head."""
    n_frames = 1 + int(round(front.window_s * front.sample_rate)) // front.hop_length
    n = front.n_fft
    fft = 5 * n * int(np.log2(n))  # radix-2 complex FFT: (n/2) log2 n butterflies of ~10 flops
    per_frame = n + fft + 3 * (n // 2 + 1) + 2 * n_lut + 2 * front.n_mels  # window, FFT, power, mel bands, dB
    return n_frames * per_frame + n_frames * (2 * front.n_mfcc * front.n_mels + 4 * front.n_mfcc) + head_flops


def head_flops(est) -> int:
    clf = est.head_.steps[-1][1]
    if est.classifier == "rf":
        return sum(int(t.tree_.max_depth) for t in clf.estimators_)  # one comparison per level per tree
    weights = [clf.coef_.T] if est.classifier == "logreg" else clf.coefs_
    return int(sum(2 * w.size for w in weights)) + 2 * weights[0].shape[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--heads", default="logreg,mlp,rf")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import emlearn

    from earmark import api
    from earmark.audio import load
    from earmark.export.c import _mel_tables

    compiler = shutil.which("cc") or shutil.which("gcc")
    fsdd = data_root() / "fsdd"
    train, _ = split_dataset(fsdd, args.work / "train", "train")
    _, test = split_dataset(fsdd, args.work / "test", "test")
    raws = []
    for i, (path, _) in enumerate(test):
        y, _ = load(path, sr=22050)
        raw = args.work / "raw" / f"{i}.f32"
        raw.parent.mkdir(parents=True, exist_ok=True)
        y.astype("<f4").tofile(raw)
        raws.append(raw)
    print(f"# FSDD official split: {len(test)} test clips; compiler {compiler}")
    params = {"logreg": None, "mlp": {"hidden_layer_sizes": [32], "max_iter": 800}, "rf": {"n_estimators": 30}}
    rows = []
    for head in args.heads.split(","):
        model = api.train(train, embedder="mfcc", classifier=head, classifier_params=params[head], cache_dir=args.work / "cache")
        header = args.work / f"digits_{head}.h"
        api.export(model, header, fmt="c")
        binary = args.work / f"classify_{head}"
        subprocess.run([compiler, "-O2", "-std=c99", "-I", emlearn.includedir, "-o", str(binary),
                        str(header.with_name(f"{header.stem}_example.c")), "-lm"], check=True)
        text, data, bss = (int(v) for v in subprocess.run(["size", str(binary)], capture_output=True, text=True,
                                                           check=True).stdout.splitlines()[1].split()[:3])
        truth = [label for _, label in test]
        t = time.perf_counter()
        python = [p.label for p in model.predict([p for p, _ in test])]
        py_s = time.perf_counter() - t
        c_labels, c_us = [], []
        for raw in raws:
            label, _, n_windows, us = subprocess.run([str(binary), str(raw), "-t"], capture_output=True, text=True,
                                                      check=True).stdout.strip().split(",")
            c_labels.append(label)
            c_us.append(float(us))
        n_windows_py = sum(len(model.front_end.embed_file(p).vectors) for p, _ in test)
        _, n_lut = _mel_tables(model.front_end)
        flops = flops_per_window(model.front_end, n_lut, head_flops(model.estimator))
        m4_ms = 1e3 * flops * CYCLES_PER_FLOP / M4_HZ
        row = {"head": head, "python_accuracy": float(np.mean([a == b for a, b in zip(python, truth)])),
               "c_accuracy": float(np.mean([a == b for a, b in zip(c_labels, truth)])),
               "agreement": float(np.mean([a == b for a, b in zip(python, c_labels)])),
               "header_bytes": header.stat().st_size, "text_bytes": text, "static_ram_bytes": data + bss,
               "c_us_per_window": float(np.median(c_us)), "python_us_per_window": 1e6 * py_s / n_windows_py,
               "flops_per_window": flops, "m4_ms_per_window_estimate": m4_ms,
               "m4_x_realtime_estimate": model.front_end.hop_s / (m4_ms / 1e3),
               "earmark_model_bytes": model.save(args.work / f"digits_{head}.earmark").stat().st_size}
        rows.append(row)
        print(f"{head:<7} accuracy python {row['python_accuracy']:.4f}  C {row['c_accuracy']:.4f}  agree {row['agreement']:.4f}  "
              f"header {row['header_bytes']:,} B  code {text:,} B  static RAM {data + bss:,} B  "
              f"C {row['c_us_per_window']:.0f} us/window vs earmark {row['python_us_per_window']:.0f} us/window  "
              f"{flops / 1e6:.2f} MFLOP/window -> M4F@80MHz ~{m4_ms:.0f} ms/window ({row['m4_x_realtime_estimate']:.1f}x realtime at "
              f"{model.front_end.hop_s} s hops)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
