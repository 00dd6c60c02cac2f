"""export / bench: a trained model taken out of earmark (ONNX, C) and timed."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from earmark.audio import find_audio_files
from earmark.data.dataset import load_dataset
from earmark.errors import ParameterError, check_choice
from earmark.fileio import atomic_write, check_writable_file
from earmark.pipeline import Model
from earmark.api._params import documented

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("onnx", "c")
RUNNER_NAME = "earmark_onnx_runner.py"


def _model(model) -> Model:
    return model if isinstance(model, Model) else Model.load(model)


def calibration_files(model: Model | None, calibration=None) -> list[Path]:
    """Audio files for int8 calibration: ``calibration`` (folders or files), else the model's training data if still there."""
    if calibration is None:
        root = model.info.get("data", {}).get("root") if model is not None else None
        if not root or not Path(root).is_dir():
            raise ParameterError("int8 needs calibration audio: pass a folder of the training recordings with --calibration-data DIR "
                                 f"(the model's training data{f', {root},' if root else ''} is not there).")
        calibration = [root]
    paths = [calibration] if isinstance(calibration, (str, Path)) else list(calibration)
    for p in paths:
        if not Path(p).exists():
            raise ParameterError(f"--calibration-data {p}: no such file or folder; pass the training recordings.")
    files = []
    for p in map(Path, paths):  # a dataset folder gives the files its metadata.csv lists; any other folder, its audio files
        files += [c.path for c in load_dataset(p).clips] if (p / "metadata.csv").is_file() else find_audio_files([p])
    if not files:
        raise ParameterError(f"--calibration-data {' '.join(map(str, paths))}: no audio files there; pass the training recordings.")
    return files


@documented(
    out=("str or Path", "The file to write: ``model.onnx``, or ``model.h`` with ``fmt='c'``."),
    fmt=("str", "``onnx`` (audio window in, class scores out; a runner script is written beside it) or ``c`` (small "
                "heads on MFCC statistics)."),
    int8=("bool", "ONNX: quantize the convolutions to int8, calibrated on ``calibration``."),
)
def export(model, out, *, fmt: str = "onnx", int8: bool = False, calibration=None) -> dict:
    """Write ``model`` (a :class:`Model` or a model file) as ``fmt`` to ``out``; return what was written.

    ``onnx``: one graph from audio windows to class probabilities, and the
    stand-alone runner (:mod:`earmark.export.runner`) beside it. ``int8``
    quantizes the graph's convolutions, calibrated on windows of
    ``calibration`` (default: the model's training data). ``c``: a C header
    for small heads on MFCC statistics (see :mod:`earmark.export.c`).

    Examples
    --------
    >>> import tempfile
    >>> from earmark import train
    >>> model = train("data/demo/train", embedder="mfcc")  # C export: MFCC statistics and a small head
    >>> written = export(model, tempfile.mkdtemp() + "/demo.h", fmt="c")
    >>> written["format"], written["sample_rate"], written["example"].endswith("demo_example.c")
    ('c', 22050, True)
    """
    check_choice("format", fmt, EXPORT_FORMATS)
    inputs = [model] if isinstance(model, (str, Path)) else []
    out = check_writable_file(out, "out", inputs=inputs)
    check_writable_file(out.with_name(f"{out.stem}_example.c" if fmt == "c" else RUNNER_NAME), "out", inputs=inputs)
    m = _model(model)
    files = calibration_files(m, calibration) if int8 and fmt == "onnx" else None  # before any work
    if fmt == "c":
        from earmark.export.c import export_c

        if int8:
            raise ParameterError("--int8 applies to --format onnx; the C export is float32 (its heads are small already).")
        return export_c(m, out)
    from earmark.export.to_onnx import build_onnx, calibration_windows, quantize_int8

    graph = build_onnx(m)
    if int8:
        graph = quantize_int8(graph, calibration_windows(graph, files))
    with atomic_write(out, "wb") as f:
        f.write(graph.to_bytes())
    runner = out.with_name(RUNNER_NAME)
    from earmark.export import runner as runner_module

    with atomic_write(runner, "w") as f:
        f.write(Path(runner_module.__file__).read_text())
    log.info("wrote %s (%d bytes) and %s", out, out.stat().st_size, runner)
    return {"format": "onnx", "out": str(out), "bytes": out.stat().st_size, "int8": int8, "runner": str(runner),
            "classes": m.classes, "sample_rate": graph.meta["sample_rate"], "window_samples": graph.meta["window_samples"],
            "calibration_windows": graph.meta.get("calibration_windows")}


@documented(
    model=("Model, str or Path", "A trained model (aisfx front end for the ONNX rows), or its file."),
    windows=("int", "Windows to time per runtime."),
    batch=("int", "Windows per call when timing throughput."),
    threads=("int or None", "Threads each runtime may use (``None``: its default)."),
    int8=("bool", "Also time the int8 graph, calibrated on ``calibration``."),
)
def bench(model, *, int8: bool = False, calibration=None, windows: int = 64, batch: int = 16, threads: int | None = None) -> list[dict]:
    """Size, latency per window and x realtime of the model here: earmark's own path, ONNX float32 and (``int8``) int8.

    Every row times the same ``windows`` windows of noise (speed does not
    depend on content) after one warm-up batch. x realtime is the audio
    each window stands for (the hop) over its latency.
    """
    from earmark.embeddings.onnxrt import session
    from earmark.export.to_onnx import build_onnx, calibration_windows, quantize_int8

    m = _model(model)
    files = calibration_files(m, calibration) if int8 else None  # before any work
    graph = build_onnx(m)
    n = int(graph.meta["window_samples"])
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((windows, n)) * 0.1).astype(np.float32)
    hop_s = float(graph.meta["hop_s"])
    rows = [_time_earmark(m, audio, hop_s, batch, graph.meta, None if isinstance(model, Model) else Path(model).stat().st_size)]
    variants = [("onnx fp32", graph)]
    if int8:
        variants.append(("onnx int8", quantize_int8(graph, calibration_windows(graph, files))))
    for name, g in variants:
        blob = g.to_bytes()
        sess = session(blob, threads=threads)
        inputs = {i.name for i in sess.get_inputs()}

        def run(chunk, sess=sess, inputs=inputs):
            feed = {"audio": chunk, "peak": np.ones((len(chunk), 1), np.float32)}
            sess.run(["probabilities"], {k: v for k, v in feed.items() if k in inputs})

        rows.append(_row(name, len(blob), _per_window(run, audio, batch), hop_s))
    return rows


def _time_earmark(m: Model, audio: np.ndarray, hop_s: float, batch: int, meta: dict, size: int | None) -> dict:
    """earmark's own path on the same windows: front end on each window's samples, then the estimator."""
    front, est = m.front_end, m.estimator

    def run(chunk):
        feats = np.concatenate([front.embed_stream([w]).vectors[:1] for w in _trim(chunk, meta)])
        est.window_proba(feats)

    return _row("earmark", size, _per_window(run, audio, batch), hop_s)


def _trim(chunk: np.ndarray, meta: dict):
    """The signal each graph window stands for (a centred STFT window holds ``n_fft // 2`` samples of padding at each end)."""
    framing = meta["framing"]
    if framing["kind"] != "stft-blocks":
        return list(chunk)
    half = framing["n_fft"] // 2
    return [w[half : len(w) - half] for w in chunk]


def _per_window(run, audio: np.ndarray, batch: int) -> float:
    run(audio[:batch])  # warm-up: first-call allocations and kernel choices
    start = time.perf_counter()
    for i in range(0, len(audio), batch):
        run(audio[i : i + batch])
    return (time.perf_counter() - start) / len(audio)


def _row(name: str, size: int | None, seconds: float, hop_s: float) -> dict:
    return {"runtime": name, "bytes": size, "ms_per_window": seconds * 1e3, "x_realtime": hop_s / seconds}
