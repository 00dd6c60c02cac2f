"""``predict`` and ``detect`` over many files on a Dask cluster (:mod:`earmark.scale`): written as they finish, resumable.

The model file's bytes go to every worker once (``scatter``, so a remote
cluster needs no shared copy of it); each worker loads it once and runs
whole files; this process writes each result as it comes back and records
it in a small manifest beside the outputs (``.earmark-done.jsonl``: the
recording, its content hash, the run's settings), so a rerun with the same
model and settings skips what is done and redoes only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from earmark.api.jobs import runnable_model
from earmark.embeddings import spans
from earmark.errors import ParameterError, record_skip

log = logging.getLogger(__name__)

MANIFEST = ".earmark-done.jsonl"


def model_payload(model) -> bytes:
    """The bytes of ``model``'s file (a path, or a :class:`Model` saved to a temporary file)."""
    from earmark.pipeline import Model

    if isinstance(model, (str, Path)):
        if Path(model).is_dir():
            raise ParameterError(f"{model}: a voice database runs in one process; leave --workers/--scheduler out.")
        return Path(model).read_bytes()
    if not isinstance(model, Model):
        raise ParameterError(f"model must be a model file or an earmark Model, not {type(model).__name__}.")
    with tempfile.TemporaryDirectory() as tmp:
        return model.save(Path(tmp) / "model.earmark").read_bytes()


def _worker_model(payload: bytes, runtime: Runtime | None):
    """The model in ``payload``, loaded once per process (a worker, or the client planning stretches) and per
    :class:`Runtime` (None: as saved): int8 is calibrated on the recordings the client resolved, never on the worker's
    own idea of the training data."""
    from earmark.scale import worker_cached

    runtime = runtime or Runtime()

    def load():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.earmark"
            path.write_bytes(payload)
            return runnable_model(path, runtime.backend, list(runtime.calibration) or None)

    return worker_cached(f"model/{hashlib.sha256(payload).hexdigest()}/{runtime.backend}/{'|'.join(runtime.calibration)}", load)


@dataclass(frozen=True)
class Runtime:
    """How the workers run a model: its backend, int8's calibration recordings (resolved by the client) and the
    embedding cache (``cache_dir``, None: the default folder; ``use_cache``)."""

    backend: str | None = None
    calibration: tuple[str, ...] = ()
    cache_dir: str | None = None
    use_cache: bool = False

    @classmethod
    def resolve(cls, model, backend: str | None, calibration=None, cache_dir=None, use_cache: bool = False) -> Runtime:
        """The runtime for ``model`` (a file or a :class:`Model`), with int8's calibration files checked here, before any
        work (``calibration``, else the model's training data)."""
        cache = {"cache_dir": None if cache_dir is None else str(Path(cache_dir).resolve()), "use_cache": bool(use_cache)}
        if backend != "onnx-int8":
            return cls(backend, **cache)
        from earmark.api.deploy import calibration_files
        from earmark.pipeline import Model

        loaded = Model.load(model) if isinstance(model, (str, Path)) else model
        return cls(backend, tuple(str(Path(f).resolve()) for f in calibration_files(loaded, calibration)), **cache)

    @property
    def key(self) -> dict:
        """What changes a run's results (the cache does not)."""
        return {"backend": self.backend, "calibration": list(self.calibration)}

    def cache(self):
        from earmark.embeddings import EmbeddingCache

        return EmbeddingCache(self.cache_dir, enabled=self.use_cache)


def _predict_task(payload: bytes, runtime: Runtime, path: str, top_k: int, parts: list | None = None):
    """One file's prediction (from its stretches ``parts`` joined, for a long recording)."""
    model = _worker_model(payload, runtime)
    top_k = min(top_k, len(model.classes))
    if parts:
        return model.predict_embedding(spans.join(parts), path, top_k=top_k)
    return model.predict(path, top_k=top_k, cache=runtime.cache())[0]


def _detect_task(payload: bytes, runtime: Runtime, path: str, settings, hop_s: float | None, parts: list | None = None) -> dict:
    """One recording's events (from its stretches ``parts`` joined, for a long recording)."""
    from earmark.inference.detect import detect as detect_one
    from earmark.inference.detect import level_frames, refine_edges

    model = _worker_model(payload, runtime)
    found = detect_one(model, spans.join(parts) if parts else Path(path), settings=settings, hop_s=hop_s, cache=runtime.cache())
    if parts and settings.refine_edges and found["events"]:  # joined stretches: the edges from the file's own levels
        found["events"] = refine_edges(found["events"], level_frames(Path(path)), search_s=model.front_end.window_s / 2)
    return found


def _front(payload: bytes, runtime, hop_s: float | None):
    front = _worker_model(payload, runtime).front_end
    return front.with_hop(hop_s) if hop_s else front


def _span_task(payload: bytes, runtime: Runtime, hop_s: float | None, path: str, span, peak):
    return spans.embed_span(_front(payload, runtime, hop_s), path, span, peak=peak)


def _peak_task(payload: bytes, runtime: Runtime, hop_s: float | None, path: str, span) -> float:
    return spans.span_peak(_front(payload, runtime, hop_s), path, span)


class Manifest:
    """Which recordings a run with these settings (``key``) has finished: one JSON line each, appended and synced."""

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


def _plan(files: list[Path], manifest: Manifest, batch, client) -> list[tuple[Path, str]]:
    """The files still to do (with their hashes, made on the workers); those done before go to ``batch.resumed``,
    unreadable ones to skipped."""
    from earmark.embeddings.cache import file_hashes

    todo = []
    hashes = file_hashes(files, client)
    for f in files:
        sha = hashes[str(f)]
        if isinstance(sha, OSError):
            batch.skipped.append({"file": str(f), "reason": f"cannot be read ({sha.strerror or sha})"})
            continue
        output = manifest.finished(str(f.resolve()), sha)
        if output is not None:
            batch.resumed.append(output or str(f))
        else:
            todo.append((f, sha))
    return todo


def _results(client, task, todo, args, *, description: str, progress: bool, hop_s: float | None, stretch_s: float):
    """``(path, sha, result or exception)`` as the cluster finishes them, with progress in files, hours and x realtime.

    A recording of at least two ``stretch_s`` goes out in stretches
    (:mod:`earmark.embeddings.spans`) whose embeddings its task joins.
    """
    from earmark.scale import Tally, map_unordered

    payload, rest = args[0], args[1:]
    shared = client.scatter(payload, broadcast=True)
    front = _front(payload, None, hop_s)  # the grid and rate of the model's windows, to plan the stretches here
    shas = {str(f): sha for f, sha in todo}
    items = [(shared, rest[0], str(f), *rest[1:]) for f, _ in todo]

    def inputs(item: tuple) -> tuple:
        return (*item, spans.submit(client, front, item[2], stretch_s, _span_task, _peak_task, (shared, item[1], hop_s), tally))

    tally = Tally(len(items), what=description, enabled=progress)
    for item, result in map_unordered(client, task, items, inputs=inputs):
        path = item[2]
        if isinstance(result, BaseException):
            tally.add(failed=True)
        else:
            tally.add(audio_s=float(result["duration_s"]) if isinstance(result, dict) else 0.0)
        yield Path(path), shas[path], result
    tally.finish()


def predict(model, files: list[Path], *, top_k: int, out, fmt: str, runtime: Runtime, workers, scheduler, progress: bool, batch,
            stretch_s: float = spans.STRETCH_S):
    """Classify ``files`` on the cluster; each row is appended to ``out`` (CSV or JSON lines) as its file finishes."""
    from earmark.scale import dask_client

    payload = model_payload(model)
    out = Path(out)
    manifest = Manifest(out.with_name(out.name + ".done.jsonl"), run_key(payload, top_k=top_k, fmt=fmt, **runtime.key))
    new_file = not out.exists() or not manifest.done
    with dask_client(workers, scheduler) as client, open(out, "w" if new_file else "a", newline="") as sink:
        todo = _plan(files, manifest, batch, client)
        writer = _PredictionWriter(sink, fmt, top_k, header=new_file, closest=bool(getattr(_worker_model(payload, None).estimator, "rejects", False)))
        for path, sha, result in _results(client, _predict_task, todo, (payload, runtime, top_k), description="classifying on the cluster",
                                          progress=progress, hop_s=None, stretch_s=stretch_s):
            if isinstance(result, BaseException):
                record_skip(batch.skipped, path, result)
                continue
            writer.write(result)
            sink.flush()
            os.fsync(sink.fileno())
            manifest.add(str(path.resolve()), sha)
            batch.records.append(result)
    return batch


class _PredictionWriter:
    """Rows of an incremental prediction file, as ``earmark predict --format csv|json`` prints them (JSON: one row a line)."""

    def __init__(self, sink, fmt: str, top_k: int, *, header: bool, closest: bool = False) -> None:
        import csv

        from earmark.pipeline import Prediction

        self.fmt, self.next_k, self.sink, self.closest = fmt, top_k - 1, sink, closest
        self.csv = csv.writer(sink) if fmt == "csv" else None
        if header and self.csv is not None:
            self.csv.writerow(Prediction.csv_header(self.next_k, closest=closest))

    def write(self, p) -> None:
        if self.csv is not None:
            self.csv.writerow(p.csv_row(p.row(), self.next_k, closest=self.closest))
        else:
            self.sink.write(json.dumps(p.row(), ensure_ascii=False) + "\n")


def detect(model, files: list[Path], *, settings, hop_s, fmt: str, out_dir: Path, names: dict, runtime: Runtime, workers, scheduler,
           progress: bool, batch, record, stretch_s: float = spans.STRETCH_S):
    """Find events in ``files`` on the cluster; each recording's event file is written as it finishes."""
    from earmark.data.labels import label_format
    from earmark.scale import dask_client

    payload = model_payload(model)
    manifest = Manifest(out_dir / MANIFEST, run_key(payload, settings=settings, hop_s=hop_s, fmt=fmt, **runtime.key))
    suffix = label_format(fmt).suffix
    with dask_client(workers, scheduler) as client:
        todo = _plan(files, manifest, batch, client)
        for path, sha, result in _results(client, _detect_task, todo, (payload, runtime, settings, hop_s), hop_s=hop_s,
                                          stretch_s=stretch_s,
                                          description="detecting on the cluster", progress=progress):
            if isinstance(result, BaseException):
                record_skip(batch.skipped, path, result)
                continue
            rec = record(path, result, out_dir / (names[path] + suffix))
            manifest.add(str(path.resolve()), sha, rec["written_to"])
            batch.records.append(rec)
    return batch
