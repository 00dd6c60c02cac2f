"""Scale-out on Dask distributed: the same work split by file over worker processes.

``--workers N`` starts a local cluster on 127.0.0.1 (N worker processes, one
thread each, BLAS and torch on one thread, each restarted by its nanny if it
dies); ``--scheduler tcp://HOST:PORT`` uses an existing one (on SLURM or PBS
started by dask-jobqueue, on Kubernetes by dask-kubernetes; see the tour in the docs).
Tasks are retried on another worker when theirs dies, results come back as
they finish, and the caller writes them as they come, so an interrupted run
loses only what was in flight.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from earmark.errors import ParameterError

log = logging.getLogger(__name__)

# a worker process runs one task at a time; BLAS and OpenMP stay on one thread, and earmark's own (torch, onnxruntime,
# the FFT pool) use EARMARK_THREADS: the machine's cores shared out among the local workers (1 when workers = cores)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "EARMARK_THREADS": "1", "EARMARK_WORKER": "1"}
RETRIES = 2  # a task whose worker died runs again elsewhere this many times


def _dask():
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ParameterError("--workers / --scheduler run on Dask, which is not installed; pip install 'earmark[dask]'.") from None
    return Client, LocalCluster, as_completed


def check_options(workers: int | None, scheduler: str | None) -> None:
    """Refuse nonsense before anything starts."""
    if workers is not None and scheduler is not None:
        raise ParameterError("--workers and --scheduler both given; --workers starts a local cluster, --scheduler uses "
                             "an existing one: pass one of them.")
    if workers is not None and not 1 <= workers <= 256:
        raise ParameterError(f"--workers {workers}: give 1 to 256 worker processes (one per core is usual).")
    if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise ParameterError(f"--scheduler {scheduler}: give the scheduler's address, e.g. tcp://10.0.0.5:8786.")


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, *, timeout_s: float = 30.0):
    """A Dask client: on a new local cluster of ``workers`` processes on 127.0.0.1, or on ``scheduler``; closed after."""
    check_options(workers, scheduler)
    Client, LocalCluster, _ = _dask()
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"--scheduler {scheduler}: cannot be reached ({exc}); start it, or check the address.") from None
        try:
            yield client
        finally:
            client.close()
        return
    from earmark.threads import process_cores

    n = workers or 1
    threads = max(1, process_cores() // n)  # the cores shared out: one thread each when there are as many workers as cores
    env = {**ONE_THREAD, "EARMARK_THREADS": str(threads)}
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, env=env, silence_logs=logging.ERROR)
    client = Client(cluster)
    log.info("local Dask cluster: %d worker processes on 127.0.0.1, %d compute thread(s) each", n, threads)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def in_worker() -> None:
    """Settings every task applies on its worker: torch on the worker's share of the cores."""
    if os.environ.get("EARMARK_WORKER") == "1":
        from earmark.threads import process_cores

        try:
            import torch

            if torch.get_num_threads() != process_cores():
                torch.set_num_threads(process_cores())
        except ImportError:
            pass


_WORKER_CACHE: dict[str, Any] = {}


def worker_cached(key: str, build: Callable[[], Any]) -> Any:
    """``build()`` once per worker process and ``key``: the one place where a run's tasks keep what they share (the
    model of a predict or detect, the front end of an index), after :func:`in_worker`'s settings."""
    in_worker()
    if key not in _WORKER_CACHE:
        _WORKER_CACHE[key] = build()
    return _WORKER_CACHE[key]


def map_unordered(client, fn: Callable, items: Iterable[tuple], *, keys: Iterable[str] | None = None,
                  inputs: Callable[[tuple], tuple] | None = None, max_in_flight: int | None = None) -> Iterator[tuple[tuple, Any]]:
    """``fn(*item)`` for each item on the cluster; yields ``(item, result)`` as each finishes, ``result`` being the
    exception when the task failed (after :data:`RETRIES` tries on other workers if its worker died).

    ``inputs(item)``, if given, returns the arguments ``fn`` gets instead of
    ``item``; they may hold futures of tasks it submitted (the stretches of a
    long recording, say), which the cluster runs first and hands over as results.
    At most ``max_in_flight`` items are submitted and not yet handed back
    (default: four per worker thread, at least 8), so a million files never
    sit on the scheduler at once and an interrupted run has submitted little.
    """
    _, _, as_completed = _dask()
    items = iter(items)
    keys = iter(keys) if keys is not None else None
    limit = max_in_flight or in_flight_limit(client)
    futures: dict = {}
    pending = as_completed()

    def submit_next() -> bool:
        item = next(items, None)
        if item is None:
            return False
        key = next(keys) if keys is not None else None
        future = client.submit(fn, *(item if inputs is None else inputs(item)), retries=RETRIES, pure=False, key=key)
        futures[future] = item
        pending.add(future)
        return True

    while len(futures) < limit and submit_next():
        pass
    for future in pending:
        item = futures.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - a failed file is reported by the caller, the rest go on
            result = exc
        future.release()
        yield item, result
        submit_next()  # one handed back, one more in


def in_flight_limit(client) -> int:
    """How many files a run keeps submitted at once: four per worker thread, at least 8."""
    try:
        threads = sum(client.nthreads().values())
    except Exception:  # noqa: BLE001 - a client that cannot say: the floor
        threads = 0
    return max(8, 4 * threads)


class Tally:
    """Progress of a cluster run in files, hours of audio, x realtime and failures, and the stretches of long
    recordings done (:mod:`earmark.embeddings.spans`): a line every ``every_s`` and at the end."""

    def __init__(self, total: int, *, what: str, enabled: bool, every_s: float = 30.0) -> None:
        self.total, self.what, self.enabled, self.every_s = total, what, enabled, every_s
        self.done = self.failed = 0
        self.parts_total = self.parts_done = 0
        self.audio_s = 0.0
        self.t0 = self.last = time.monotonic()

    def add(self, *, audio_s: float = 0.0, failed: bool = False) -> None:
        self.done += 1
        self.failed += int(failed)
        self.audio_s += audio_s
        self._tick()

    def expect_parts(self, futures: list) -> None:
        """Count the stretch tasks ``futures`` of a long recording as they finish (their callbacks run on the
        client's own thread), so that one long file shows progress before it is done."""
        self.parts_total += len(futures)
        for future in futures:
            future.add_done_callback(self._part_done)

    def _part_done(self, _future) -> None:
        self.parts_done += 1
        self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s and self.done < self.total:
            self.last = now
            self._say()

    def finish(self) -> str:
        return self._say()

    def _say(self) -> str:
        from earmark.progress import note

        seconds = time.monotonic() - self.t0
        line = (f"{self.what}: {self.done}/{self.total} files, {self.audio_s / 3600:.2f} h of audio in {seconds:.0f} s"
                + (f" ({self.audio_s / seconds:.0f}x realtime)" if self.audio_s and seconds > 0 else "") + f", {self.failed} failed"
                + (f", {self.parts_done}/{self.parts_total} stretches of long recordings" if self.parts_total else ""))
        note(line, enabled=self.enabled)
        return line
