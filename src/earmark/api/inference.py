"""predict / detect / listen: a trained model put to work, returning plain records.

These functions do the work; the CLI (and later the web service) only
parses options, calls them and presents what they return. Files that
cannot be used are returned in ``skipped`` with the reason, never raised,
so one bad file loses nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from earmark.audio import find_audio_files
from earmark.data.labels import label_format, write_labels
from earmark.api.jobs import Batch, DetectJob, DiariseJob, PredictJob, Runtime, model_payload, runnable_model
from earmark.batch import MANIFEST, Manifest, executor, on_cluster, results, run_key
from earmark.errors import ParameterError, check_choice, check_fraction, check_gate_db, check_positive
from earmark.fileio import check_writable_dir, check_writable_file
from earmark.inference.detect import DetectionSettings, detect as detect_one
from earmark.inference.voices import VoiceDB, is_voice_db
from earmark.pipeline import Model, Prediction
from earmark.api._params import documented

log = logging.getLogger(__name__)

DEFAULT_DETECT_DIR = "earmark-events"


def _files(paths, what: str) -> list[Path]:
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files = find_audio_files(paths)
    if not files:
        raise ParameterError(f"No audio files found in {', '.join(map(str, paths))}; pass {what} or folders holding them.")
    return files


def _stretch(stretch_s: float | None) -> dict:
    return {} if stretch_s is None else {"stretch_s": check_positive("stretch_s", stretch_s)}


@documented(
    out=("str, Path or None", "On a cluster: append each file's row to this file (``fmt`` csv or json) as it "
                              "finishes."),
    fmt=("str", "With ``out``: ``csv`` or ``json`` (one object a line)."),
    top_k=("int", "Return the ``top_k`` most probable labels of each file."),
)
def predict(model, paths, *, top_k: int = 1, cache_dir=None, use_cache: bool = True, progress: bool = False,
            backend: str | None = None, calibration=None, workers: int | None = None, scheduler: str | None = None,
            out=None, fmt: str = "csv", stretch_s: float | None = None) -> Batch:
    """Classify audio files (or folders of them, searched recursively).

    Parameters
    ----------
    model : Model or str or Path
        A trained model or its file.
    top_k : int
        Labels per file, most probable first (at most the number of classes).
    backend, calibration
        What runs an aisfx model's network (``torch``, ``onnx``, ``onnx-int8``)
        and, for int8, the recordings that set its ranges (default: the
        model's training data); see :meth:`Model.with_backend`.
    workers, scheduler, out, fmt
        Run on a Dask cluster (:mod:`earmark.batch`): a local one of
        ``workers`` processes, or the one at ``scheduler``; each file's row is
        appended to ``out`` (``fmt`` csv or json, one row a line) as it
        finishes, and a rerun skips the files already there. A recording of
        at least two ``stretch_s`` (default 600 s) is cut into stretches
        embedded on several workers (the same windows as one pass).

    Returns
    -------
    Batch
        ``records``: one :class:`~earmark.pipeline.Prediction` per usable
        file (``silent=True`` when no window reaches the gate);
        ``skipped``: the files that could not be read.

    Raises
    ------
    ParameterError
        If an option is invalid. Unreadable files do not raise: they are in ``skipped``.

    Examples
    --------
    >>> from earmark import train
    >>> model = train("data/demo/train", embedder="mfcc")
    >>> batch = predict(model, "data/demo/unseen", top_k=2)
    >>> [(p.path.name, p.labels) for p in batch.records]
    [('2-100786-A-1.flac', ['rooster', 'sneezing']), ('2-114280-A-0.flac', ['sneezing', 'crying_baby'])]
    """
    check_positive("top_k", top_k, kind=int)
    files = _files(paths, "audio files")
    cluster = on_cluster(workers, scheduler)
    if cluster:
        if out is None:
            raise ParameterError("--workers/--scheduler write each file's row as it finishes: give --out FILE.")
        check_choice("format", fmt, ("csv", "json"))
        out = check_writable_file(out, "out")
    loaded = model if isinstance(model, Model) else Model.load(model)
    runtime = Runtime.resolve(loaded, backend, calibration, cache_dir, use_cache)
    payload = model_payload(model) if cluster else None
    job = PredictJob(payload, runtime, loaded if cluster else runtime.model(loaded), top_k=top_k)
    batch = Batch()
    key = run_key(payload, top_k=top_k, fmt=fmt, **runtime.key) if cluster else None
    with executor(workers, scheduler, **_stretch(stretch_s)) as runner, \
            (_RowSink(out, fmt, top_k, key, closest=loaded.estimator.rejects) if cluster else nullcontext()) as sink:
        for f, result, sha in results(runner, job, files, batch, manifest=sink and sink.manifest, progress=progress):
            if sink is not None:
                sink.write(result, f, sha)
            batch.records.append(result)
    return batch


class _RowSink:
    """A prediction file written row by row as a cluster's files finish (CSV, or JSON lines), with the manifest that lets
    a rerun append only what is missing."""

    def __init__(self, out: Path, fmt: str, top_k: int, key: str, *, closest: bool) -> None:
        import csv

        self.manifest = Manifest(out.with_name(out.name + ".done.jsonl"), key)
        header = not out.exists() or not self.manifest.done
        self.sink = open(out, "w" if header else "a", newline="")
        self.fmt, self.next_k, self.closest = fmt, top_k - 1, closest
        self.csv = csv.writer(self.sink) if fmt == "csv" else None
        if header and self.csv is not None:
            self.csv.writerow(Prediction.csv_header(self.next_k, closest=closest))

    def write(self, p: Prediction, path: Path, sha: str) -> None:
        if self.csv is not None:
            self.csv.writerow(p.csv_row(p.row(), self.next_k, closest=self.closest))
        else:
            self.sink.write(json.dumps(p.row(), ensure_ascii=False) + "\n")
        self.sink.flush()
        os.fsync(self.sink.fileno())
        self.manifest.add(str(path.resolve()), sha)

    def __enter__(self) -> _RowSink:
        return self

    def __exit__(self, *exc) -> None:
        self.sink.close()


def _labeller(label_with, model, on_cluster: bool) -> Model | None:
    """The clip model that names detected events, checked before any audio work."""
    if label_with is None:
        return None
    if on_cluster:
        raise ParameterError("The 'label_with' parameter runs on this machine only; drop --workers/--scheduler to name the events "
                             "with it.")
    if isinstance(model, (str, Path)) and is_voice_db(model):
        raise ParameterError("The 'label_with' parameter names sound events; a voice database's events are already its speakers.")
    if isinstance(label_with, (str, Path)) and is_voice_db(label_with):
        raise ParameterError(f"The 'label_with' parameter takes a model file from 'earmark train', not the voice database "
                             f"{str(label_with)!r}.")
    return label_with if isinstance(label_with, Model) else Model.load(label_with)


@documented(
    settings=("DetectionSettings or None", "Threshold, minimum duration, merge gap, median filter, exclusive classes,"
                                           " edge refinement (:class:`earmark.inference.detect.DetectionSettings`; "
                                           "``None``: the defaults)."),
    fmt=("str", "Event file format: ``csv``, ``json``, ``audacity`` or ``raven`` (or a plug-in's label format)."),
    plot=("bool", "Also write a PNG per recording: its spectrogram with the events, the scores under it."),
    voice_threshold=("float or None", "With a voice database as ``model``: the score at which a voice is named "
                                      "(``None``: the database's calibrated threshold)."),
    label_with=("Model, str, Path or None", "A clip model that names each event, as it would the clip cut there; "
                                            "``model`` then only says where events are."),
    model=("Model, str or Path", "A trained model or its file; or a voice database folder (who speaks when)."),
)
def detect(model, recordings, *, settings: DetectionSettings | None = None, hop_s: float | None = None, fmt: str = "csv",
           out_dir=None, plot: bool = False, cache_dir=None, use_cache: bool = False, progress: bool = False,
           voice_threshold: float | None = None, backend: str | None = None, calibration=None, workers: int | None = None,
           scheduler: str | None = None, stretch_s: float | None = None, label_with=None) -> Batch:
    """Find events in long recordings and write one event file per recording into ``out_dir``.

    ``label_with`` (a clip model, or its file) names each event ``model``
    finds: the detector says where, the clip model what
    (:func:`earmark.inference.detect.label_events`); a frame model
    (``sed-crnn``) with a pretrained clip model gets both edges and names
    right. It runs with its own default backend, on this machine.

    ``model`` may be a voice database folder (``earmark enroll``): the events
    are then who speaks when, one label per enrolled speaker and
    ``unknown`` (:func:`earmark.inference.voices.diarise`), at
    ``voice_threshold`` or the database's calibrated threshold.

    ``out_dir`` defaults to ``./earmark-events`` in the working directory
    (never beside the recordings). The destination is checked before any
    audio work. ``workers`` / ``scheduler`` run the recordings on a Dask
    cluster (:mod:`earmark.batch`); each event file is written as its
    recording finishes, and a rerun with the same model and settings skips
    the recordings done (by content hash); a recording of at least two
    ``stretch_s`` (default 600 s) is cut into stretches for several workers.

    Returns
    -------
    Batch
        ``records``: per recording ``{"recording", "duration_s", "events",
        "counts", "written_to", "plot"}``; ``skipped``: unreadable recordings.

    Examples
    --------
    >>> import tempfile
    >>> from earmark import train
    >>> model = train("data/demo/train", embedder="mfcc")
    >>> batch = detect(model, "data/demo/unseen", out_dir=tempfile.mkdtemp(), fmt="audacity")
    >>> [(r["recording"].split("/")[-1], r["counts"]) for r in batch.records]
    [('2-100786-A-1.flac', {'rooster': 1}), ('2-114280-A-0.flac', {'sneezing': 1})]
    """
    settings = settings or DetectionSettings()
    spec = label_format(fmt)
    if hop_s is not None:
        check_positive("hop_s", hop_s)
    out_dir = Path(out_dir) if out_dir is not None else Path.cwd() / DEFAULT_DETECT_DIR
    check_writable_dir(out_dir, "out")
    cluster = on_cluster(workers, scheduler)
    labeller = _labeller(label_with, model, cluster)
    if isinstance(model, (str, Path)) and is_voice_db(model):
        if cluster:
            raise ParameterError(f"{model}: a voice database runs in one process; leave --workers/--scheduler out.")
        db = VoiceDB.open(model)
        payload, job = None, DiariseJob(db, db.encoder_for(), settings, voice_threshold, hop_s, Runtime(cache_dir=cache_dir, use_cache=use_cache))
    else:
        loaded = model if isinstance(model, Model) else Model.load(model)
        runtime = Runtime.resolve(loaded, backend, calibration, cache_dir, use_cache)
        payload = model_payload(model) if cluster else None  # a model file goes to a cluster as it is (its bytes also key a resumable run)
        job = DetectJob(payload, runtime, loaded if cluster else runtime.model(loaded), settings=settings, hop_s=hop_s, labeller=labeller)
    files = _files(recordings, "recordings")
    batch = Batch()
    names = _unique_stems(files)

    def record(f: Path, result: dict, target: Path) -> dict:
        target = write_labels(result["events"], target, fmt)
        png = None
        if plot:
            from earmark.evaluation.plots import detection_png

            png = detection_png(f, result, out_dir / (names[f] + ".detect.png"), threshold=result["settings"]["threshold"])
        return {"recording": str(f), "duration_s": result["duration_s"], "events": result["events"],
                "counts": dict(sorted(Counter(e.label for e in result["events"]).items())),
                "written_to": str(target), "plot": str(png) if png else None}

    manifest = Manifest(out_dir / MANIFEST, run_key(payload, settings=settings, hop_s=hop_s, fmt=fmt, **runtime.key)) if cluster else None
    with executor(workers, scheduler, **_stretch(stretch_s)) as runner:
        for f, result, sha in results(runner, job, files, batch, manifest=manifest, progress=progress):
            rec = record(f, result, out_dir / (names[f] + spec.suffix))
            if manifest is not None:
                manifest.add(str(f.resolve()), sha, rec["written_to"])
            batch.records.append(rec)
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
    score: float  # the label's probability; for "unknown", that of the class it was nearest
    level_db: float
    latency_s: float
    closest: str | None = None  # for "unknown": the class it was nearest


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


def listen_hop_s(hop_s: float | None, keywords) -> float:
    """The hop ``listen`` uses: ``hop_s`` if given, else 0.1 s when spotting keywords (a keyword lasts ~0.5 s), 0.5 s."""
    return hop_s if hop_s is not None else (0.1 if keywords else 0.5)


@documented(
    blocks=("iterable of (ndarray, int)", "Audio as it arrives: blocks of samples with their sample rate "
                                          "(:func:`earmark.inference.listen.file_blocks`, a sound card, a socket)."),
    hop_s=("float or None", "Classify the newest window this often (0.5 s; 0.1 s with ``keywords``)."),
    gate_db=("float", "Windows quieter than this (dBFS) are not classified."),
    threshold=("float", "Report windows whose top score reaches this, in (0, 1]."),
    gate=("str", "Skip quiet windows (``energy``), and with ``vad`` also windows without voice (Silero VAD)."),
    sensitivity=("float or None", "With ``keywords``: fire when the smoothed score reaches 1 - this "
                                  "(:func:`evaluate_kws` picks it for a false-accept rate)."),
    stats=("ListenStats or None", "Filled in as the stream runs: windows, latency, share of a core."),
)
def listen(model, blocks, *, hop_s: float | None = None, gate_db: float = -50.0, threshold: float = 0.5, gate: str = "energy",
           keywords=None, sensitivity: float | None = None, smooth: int = 3, refractory_s: float = 1.0,
           stats: ListenStats | None = None, backend: str | None = None, calibration=None) -> Iterator[Detection]:
    """Classify a live stream; yield the windows whose top score reaches ``threshold``.

    ``blocks`` yields ``(samples at the model's rate, arrival time)``; see
    :mod:`earmark.inference.listen` for the sources. ``stats`` (if given)
    collects latency and CPU load while the stream runs.

    With ``keywords`` (class names) the stream is a keyword spotter
    (:mod:`earmark.inference.keywords`): one event per spoken keyword, when
    its score averaged over ``smooth`` hops reaches ``1 - sensitivity``
    (``sensitivity`` replaces ``threshold``; ``earmark evaluate-kws`` picks
    it for a target false-accept rate), then nothing for ``refractory_s``; each hop scores the newest stretch of
    audio as long as the model's training clips (:func:`~earmark.inference.keywords.keyword_ring_s`).
    ``hop_s`` defaults to 0.1 s for keywords, 0.5 s otherwise. ``backend``, ``calibration`` as for :func:`predict`.

    Examples
    --------
    >>> from earmark import train
    >>> from earmark.inference.listen import file_blocks
    >>> model = train("data/demo/train", embedder="mfcc")
    >>> blocks = file_blocks("data/demo/unseen/2-100786-A-1.flac", sr=22050, block_s=0.5, realtime=False)
    >>> [(d.end_s, d.label) for d in listen(model, blocks, hop_s=1.0)][:2]
    [(1.0, 'rooster'), (2.0, 'rooster')]
    """
    from earmark.inference.keywords import KeywordSpotter, keyword_ring_s, spot_stream
    from earmark.inference.listen import listen as run
    from earmark.inference.listen import scored_windows

    check_gate_db("gate_db", gate_db)
    model = runnable_model(model, backend, calibration)
    hop_s = listen_hop_s(hop_s, keywords)
    if sensitivity is not None:
        if not keywords:
            raise ParameterError("The 'sensitivity' parameter applies to keyword spotting; give keywords too (--keywords yes,stop).")
        check_fraction("sensitivity", sensitivity)
        if sensitivity >= 1:
            raise ParameterError(f"The 'sensitivity' parameter must be below 1 (1 would fire on everything). Got {sensitivity!r} instead.")
        threshold = 1.0 - sensitivity
    check_listen_options(hop_s=hop_s, sample_rate=model.front_end.sample_rate, gate=gate, threshold=threshold)
    if keywords:
        if isinstance(keywords, str):
            keywords = keywords.split(",")
        spotter = KeywordSpotter(model.classes, keywords, threshold=threshold, smooth=smooth, refractory_s=refractory_s)
    stats = stats if stats is not None else ListenStats()
    t0, cpu0 = time.perf_counter(), _cpu()
    try:
        if keywords:
            scored = scored_windows(model, blocks, hop_s=hop_s, gate_db=gate_db, gate=gate, ring_s=keyword_ring_s(model))
            found = ((e.time_s, e.keyword, e.score, level, time.perf_counter() - arrived, None)
                     for e, level, arrived in spot_stream(scored, spotter))
        else:
            found = run(model, blocks, hop_s=hop_s, gate_db=gate_db, threshold=threshold, gate=gate)
        for end_s, label, score, level, latency, closest in found:
            stats.latencies_s.append(latency)
            stats.wall_s, stats.cpu_s = time.perf_counter() - t0, _cpu() - cpu0
            yield Detection(end_s, label, score, level, latency, closest)
    finally:
        stats.wall_s, stats.cpu_s = time.perf_counter() - t0, _cpu() - cpu0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


__all__ = ["Batch", "Detection", "ListenStats", "check_listen_options", "detect", "listen", "listen_hop_s", "predict"]
