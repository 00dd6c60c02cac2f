"""predict / detect / listen: a trained model put to work, returning plain records.

These functions do the work; the CLI (and later the web service) only
parses options, calls them and presents what they return. Files that
cannot be used are returned in ``skipped`` with the reason, never raised,
so one bad file loses nothing else.
"""

from __future__ import annotations

import logging
import resource
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from earmark.audio import find_audio_files
from earmark.data.labels import label_format, write_labels
from earmark.embeddings import EmbeddingCache
from earmark.errors import AudioLoadError, ParameterError, check_fraction, check_positive
from earmark.fileio import check_writable_dir
from earmark.inference.detect import DetectionSettings, detect as detect_one
from earmark.pipeline import Model
from earmark.progress import track

log = logging.getLogger(__name__)

DEFAULT_DETECT_DIR = "earmark-events"


@dataclass
class Batch:
    """What a batch job produced, and the inputs it skipped (``{"file", "reason"}`` each)."""

    records: list = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _as_model(model) -> Model:
    return model if isinstance(model, Model) else Model.load(model)


def _files(paths, what: str) -> list[Path]:
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files = find_audio_files(paths)
    if not files:
        raise ParameterError(f"No audio files found in {', '.join(map(str, paths))}; pass {what} or folders holding them.")
    return files


def _skip(batch: Batch, path: Path, exc: Exception) -> None:
    text = str(exc)
    reason = text[len(f"{path}: "):] if text.startswith(f"{path}: ") else text
    batch.skipped.append({"file": str(path), "reason": reason})
    log.info("skipped %s: %s", path, reason)


def predict(model, paths, *, top_k: int = 1, cache_dir=None, use_cache: bool = True, progress: bool = False) -> Batch:
    """Classify audio files (or folders of them, searched recursively).

    Parameters
    ----------
    model : Model or str or Path
        A trained model or its file.
    top_k : int
        Labels per file, most probable first (at most the number of classes).

    Returns
    -------
    Batch
        ``records``: one :class:`~earmark.pipeline.Prediction` per usable
        file (``silent=True`` when no window reaches the gate);
        ``skipped``: the files that could not be read.
    """
    check_positive("top_k", top_k, kind=int)
    model = _as_model(model)
    files = _files(paths, "audio files")
    cache = EmbeddingCache(cache_dir, enabled=use_cache)
    batch = Batch()
    for f in track(files, description="classifying", total=len(files), enabled=progress):
        try:
            batch.records.append(model.predict(f, top_k=min(top_k, len(model.classes)), cache=cache)[0])
        except AudioLoadError as exc:
            _skip(batch, f, exc)
    return batch


def detect(model, recordings, *, settings: DetectionSettings | None = None, hop_s: float | None = None, fmt: str = "csv",
           out_dir=None, plot: bool = False, cache_dir=None, use_cache: bool = False, progress: bool = False) -> Batch:
    """Find events in long recordings and write one event file per recording into ``out_dir``.

    ``out_dir`` defaults to ``./earmark-events`` in the working directory
    (never beside the recordings). The destination is checked before any
    audio work.

    Returns
    -------
    Batch
        ``records``: per recording ``{"recording", "duration_s", "events",
        "counts", "written_to", "plot"}``; ``skipped``: unreadable recordings.
    """
    settings = settings or DetectionSettings()
    spec = label_format(fmt)
    if hop_s is not None:
        check_positive("hop_s", hop_s)
    out_dir = Path(out_dir) if out_dir is not None else Path.cwd() / DEFAULT_DETECT_DIR
    check_writable_dir(out_dir, "out")
    model = _as_model(model)
    files = _files(recordings, "recordings")
    cache = EmbeddingCache(cache_dir, enabled=use_cache)
    batch = Batch()
    names = _unique_stems(files)
    for f in track(files, description="detecting", total=len(files), enabled=progress):
        try:
            result = detect_one(model, f, settings=settings, hop_s=hop_s, cache=cache)
        except AudioLoadError as exc:
            _skip(batch, f, exc)
            continue
        target = write_labels(result["events"], out_dir / (names[f] + spec.suffix), fmt)
        png = None
        if plot:
            from earmark.evaluation.plots import detection_png

            png = detection_png(f, result, out_dir / (names[f] + ".detect.png"), threshold=settings.threshold)
        batch.records.append({"recording": str(f), "duration_s": result["duration_s"], "events": result["events"],
                              "counts": dict(sorted(Counter(e.label for e in result["events"]).items())),
                              "written_to": str(target), "plot": str(png) if png else None})
    return batch


def _unique_stems(files: list[Path]) -> dict[Path, str]:
    """Output names: the file stem, with its parent folders when two recordings share a stem."""
    stems = Counter(f.stem for f in files)
    return {f: f.stem if stems[f.stem] == 1 else "_".join([*f.parent.parts[-2:], f.stem]).lstrip("_/") for f in files}


@dataclass(frozen=True)
class Detection:
    """One classified window of a live stream."""

    end_s: float
    label: str
    score: float
    level_db: float
    latency_s: float


@dataclass
class ListenStats:
    """Latency and CPU of a live session, filled in as it runs."""

    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> dict:
        lat = np.array(self.latencies_s) * 1000
        return {"detections": len(lat), "latency_median_ms": float(np.median(lat)) if len(lat) else None,
                "latency_p95_ms": float(np.percentile(lat, 95)) if len(lat) else None, "cores": self.cores, "wall_s": self.wall_s}


def check_listen_options(*, rate: int | None = None, hop_s: float, sample_rate: int | None = None, gate: str, threshold: float) -> None:
    """Validate live-stream options before any audio flows (each error names the option).

    ``sample_rate`` (the model's) also checks that ``hop_s`` is at least one sample.
    """
    from earmark.errors import check_choice

    if rate is not None:
        check_positive("rate", rate, kind=int)
    check_positive("hop_s", hop_s)
    if sample_rate is not None and hop_s * sample_rate < 1:
        raise ParameterError(f"The 'hop_s' parameter must be at least one sample ({1 / sample_rate:.2g} s at {sample_rate} Hz). Got {hop_s!r} instead.")
    check_choice("gate", gate, ("energy", "vad"))
    check_fraction("threshold", threshold)


def listen(model, blocks, *, hop_s: float = 0.5, gate_db: float = -50.0, threshold: float = 0.5, gate: str = "energy",
           stats: ListenStats | None = None) -> Iterator[Detection]:
    """Classify a live stream; yield the windows whose top score reaches ``threshold``.

    ``blocks`` yields ``(samples at the model's rate, arrival time)``; see
    :mod:`earmark.inference.listen` for the sources. ``stats`` (if given)
    collects latency and CPU load while the stream runs.
    """
    from earmark.inference.listen import listen as run

    model = _as_model(model)
    check_listen_options(hop_s=hop_s, sample_rate=model.front_end.sample_rate, gate=gate, threshold=threshold)
    stats = stats if stats is not None else ListenStats()
    t0, cpu0 = time.perf_counter(), _cpu()
    try:
        for end_s, label, score, level, latency in run(model, blocks, hop_s=hop_s, gate_db=gate_db, threshold=threshold, gate=gate):
            stats.latencies_s.append(latency)
            stats.wall_s, stats.cpu_s = time.perf_counter() - t0, _cpu() - cpu0
            yield Detection(end_s, label, score, level, latency)
    finally:
        stats.wall_s, stats.cpu_s = time.perf_counter() - t0, _cpu() - cpu0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


__all__ = ["Batch", "Detection", "ListenStats", "check_listen_options", "detect", "listen", "predict"]
