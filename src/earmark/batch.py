"""Work over many files, in this process or on a Dask cluster: one job, one executor, one manifest.

A :class:`FileJob` says what to do with one file; it is picklable, so a
cluster's workers get it once (``scatter``) and rebuild what it needs once
per process (:func:`earmark.scale.worker_cached`: a model from its file's
bytes, a front end from its description). :func:`executor` gives the
:class:`Local` executor (``workers`` and ``scheduler`` both ``None``) or a
:class:`Cluster` one (:mod:`earmark.scale`), and both ``map(job, files)``
yield ``(file, result)``, the result being the exception for a file that
failed: the caller reports it and goes on (:func:`earmark.errors.record_skip`),
on either path the same way. On a cluster, a recording of at least two
``stretch_s`` is embedded in stretches on several workers and joined
(:mod:`earmark.embeddings.spans`) when the job names the front end whose
windows cut it; at most a bounded number of files is in flight.

:class:`Manifest` records what a run finished (the file, its content hash,
its output) under a key made of the run's model and settings
(:func:`run_key`), so a rerun skips what is done (:func:`remaining`); :func:`results` runs a job with all of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from earmark.embeddings import spans
from earmark.errors import EarmarkError, record_skip

log = logging.getLogger(__name__)

MANIFEST = ".earmark-done.jsonl"  # beside a detect run's event files


class FileJob:
    """What to do with one file: ``run(path)``, or ``run(path, emb)`` with its windows already made from stretches.

    Subclasses are picklable descriptions (dataclasses of bytes, settings and
    paths); whatever is costly to build they build once per process.
    """

    description = "processing"  # for progress: "classifying", "detecting", ...

    def run(self, path: str, emb=None) -> Any:
        raise NotImplementedError

    def front(self):
        """The front end whose windows a long recording may be cut on (:mod:`earmark.embeddings.spans`; the client
        plans the stretches with it, the workers embed them); ``None``: files run whole."""
        return None

    def audio_s(self, result) -> float:
        """Seconds of audio ``result`` covers, for the cluster's progress line."""
        return 0.0


def _unexpected(path, exc: BaseException) -> None:
    """A failure that is not the file's own (an earmark or OS error, or a worker lost on it): logged with its
    traceback, so a defect is seen, while the batch goes on."""
    if not isinstance(exc, (EarmarkError, OSError)) and not type(exc).__module__.startswith("distributed"):
        log.error("%s failed unexpectedly: %s: %s", path, type(exc).__name__, exc, exc_info=exc)


class _Runner:
    """What both executors share: the content hashes of files (on the cluster's workers, when there is one)."""

    client = None

    def hashes(self, files: list[Path]) -> dict:
        from earmark.embeddings.cache import file_hashes

        return file_hashes(files, self.client)


class Local(_Runner):
    """Runs a job file by file in this process, with a progress bar."""

    def map(self, job: FileJob, files: list[Path], *, progress: bool = False) -> Iterator[tuple[Path, Any]]:
        from earmark.progress import track

        for f in track(files, description=job.description, total=len(files), enabled=progress):
            try:
                result = job.run(str(f))
            except Exception as exc:  # noqa: BLE001 - the file is reported and skipped, the rest go on
                _unexpected(f, exc)
                result = exc
            yield f, result


class Cluster(_Runner):
    """Runs a job on a Dask ``client``: the job goes to every worker once, files are submitted a bounded number at a
    time, results come back as they finish, with progress in files, hours and x realtime."""

    def __init__(self, client, stretch_s: float = spans.STRETCH_S) -> None:
        self.client, self.stretch_s = client, stretch_s

    def map(self, job: FileJob, files: list[Path], *, progress: bool = False) -> Iterator[tuple[Path, Any]]:
        from earmark.scale import Tally, map_unordered

        shared = self.client.scatter(job, broadcast=True, hash=False)  # (no hashing of the job: it may hold a loaded model)
        front = job.front()  # planned here: the grid and rate of the job's windows
        tally = Tally(len(files), what=f"{job.description} on the cluster", enabled=progress)

        def inputs(item: tuple) -> tuple:
            parts = None if front is None else spans.submit(self.client, front, item[1], self.stretch_s, _span_task,
                                                            _peak_task, (shared,), tally)
            return (*item, parts)

        for (_, path), result in map_unordered(self.client, _run_task, [(shared, str(f)) for f in files], inputs=inputs):
            failed = isinstance(result, BaseException)
            if failed:
                _unexpected(path, result)
            tally.add(failed=failed, audio_s=0.0 if failed else job.audio_s(result))
            yield Path(path), result
        tally.finish()


def _run_task(job: FileJob, path: str, parts: list | None = None):
    return job.run(path, spans.join(parts) if parts else None)


def _span_task(job: FileJob, path: str, span, peak):
    return spans.embed_span(job.front(), path, span, peak=peak)


def _peak_task(job: FileJob, path: str, span) -> float:
    return spans.span_peak(job.front(), path, span)


def on_cluster(workers: int | None, scheduler: str | None) -> bool:
    return workers is not None or scheduler is not None


@contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, *, stretch_s: float = spans.STRETCH_S):
    """The :class:`Local` executor, or a :class:`Cluster` on a new local Dask cluster of ``workers`` processes or on
    the one at ``scheduler`` (closed after)."""
    if not on_cluster(workers, scheduler):
        yield Local()
        return
    from earmark.scale import dask_client

    with dask_client(workers, scheduler) as client:
        yield Cluster(client, stretch_s)


class Manifest:
    """Which files a run with these settings (``key``) has finished: one JSON line each, appended and synced."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self.done: dict[str, tuple[str, str]] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    d = json.loads(line)
                except ValueError:  # a line cut short by a crash: its file is done again
                    continue
                if d.get("key") == key:
                    self.done[d["recording"]] = (d["sha256"], d.get("output", ""))

    def finished(self, recording: str, sha: str) -> str | None:
        """The output of ``recording`` if a run like this one finished it with these bytes and the output is still there."""
        sha_done, output = self.done.get(recording, ("", ""))
        return output if sha_done == sha and (not output or Path(output).exists()) else None

    def add(self, recording: str, sha: str, output: str = "") -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"recording": recording, "sha256": sha, "output": output, "key": self.key}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done[recording] = (sha, output)


def run_key(payload: bytes, **settings) -> str:
    """What makes two runs the same: the model's bytes and the settings."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(payload + text.encode()).hexdigest()[:16]


def results(runner, job: FileJob, files: list[Path], batch, *, manifest: Manifest | None = None,
            progress: bool = False) -> Iterator[tuple[Path, Any, str | None]]:
    """``(file, result, content hash)`` for each file ``job`` ran on; the files that failed go to ``batch.skipped``
    (:func:`earmark.errors.record_skip`). With a ``manifest``, the files it says are done are left out
    (``batch.resumed``) and each result comes with its file's hash, for :meth:`Manifest.add`."""
    todo, shas = remaining(files, manifest, runner, batch) if manifest is not None else (files, {})
    for f, result in runner.map(job, todo, progress=progress):
        if isinstance(result, BaseException):
            record_skip(batch.skipped, f, result)
            continue
        yield f, result, shas.get(str(f))


def remaining(files: list[Path], manifest: Manifest, runner, batch) -> tuple[list[Path], dict[str, str]]:
    """The files still to do and every file's content hash (made by ``runner``: on the workers of a cluster); those
    done before go to ``batch.resumed``, unreadable ones to ``batch.skipped``."""
    todo, shas = [], {}
    hashes = runner.hashes(files)
    for f in files:
        sha = hashes[str(f)]
        if isinstance(sha, OSError):
            batch.skipped.append({"file": str(f), "reason": f"cannot be read ({sha.strerror or sha})"})
            continue
        output = manifest.finished(str(f.resolve()), sha)
        if output is not None:
            batch.resumed.append(output or str(f))
        else:
            todo.append(f)
            shas[str(f)] = sha
    return todo, shas
