"""Why earmark holds BLAS to one thread: a logistic regression with 1 and with 2 OpenBLAS threads.

    python benchmarks/bench_blas.py [--cache-dir DIR]

Fits the default logistic-regression head on the aisfx window embeddings of
ESC-10 folds 2-5 (about 900 windows x 512 dims, standardised), median of 5
fits per setting, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from _common import data_root, machine
from earmark.data import load_dataset
from earmark.embeddings import EmbeddingCache, get_embedder
from earmark.embeddings.runner import embed_files
from earmark.models import make_head

warnings.filterwarnings("ignore")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    print(machine())
    ds = load_dataset(data_root() / "esc10", fold_column="fold")
    clips = [c for c in ds.clips if c.fold != "1"]
    done = embed_files([c.path for c in clips], get_embedder("aisfx"), EmbeddingCache(args.cache_dir))
    X = np.concatenate([done.embeddings[c.path].gated(-60.0) for c in clips])
    y = np.concatenate([[c.label] * len(done.embeddings[c.path].gated(-60.0)) for c in clips])
    for threads in (2, 1, 2, 1):
        times = []
        with threadpool_limits(threads, user_api="blas"):
            for _ in range(5):
                t = time.perf_counter()
                make_head("logreg").fit(X, y)
                times.append(time.perf_counter() - t)
        print(f"logistic regression on {X.shape[0]} x {X.shape[1]}, {threads} BLAS thread(s): median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
