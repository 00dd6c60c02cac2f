"""Keep BLAS on one thread where its threading costs more than it gains.

On small matrices (a few hundred windows by a few hundred dimensions, the
normal size of earmark's few-shot problems) OpenBLAS's threads cost more
than they give: a logistic regression on 906 x 512 takes about 0.5 s with two
BLAS threads and 0.065 s with one on the 2-core reference machine
(benchmarks/bench_blas.py), and idle OpenBLAS workers keep spinning after a call, slowing PyTorch code that runs
next. Parallelism is instead applied at the level of folds and draws.
"""

from __future__ import annotations

import functools
import os


def process_cores() -> int:
    """The cores this process may use: ``$EARMARK_THREADS`` if set (a Dask worker gets 1: one process per core),
    else those the process may run on."""
    given = os.environ.get("EARMARK_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_blas_thread():
    """Context manager: BLAS libraries limited to one thread inside it."""
    return _controller().limit(limits=1, user_api="blas")
