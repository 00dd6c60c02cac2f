"""Torch modules to ONNX, static int8 quantization, and onnxruntime sessions: shared by the aisfx backends and the export.

* :func:`torch_to_onnx` runs torch's exporter (``dynamo=True``, opset 20,
  a dynamic batch axis) in memory and keeps its progress output off the
  user's terminal.
* :func:`quantize_convs` quantizes a graph's convolutions but the first to
  int8 (onnxruntime's static QDQ: per-channel int8 weights, uint8
  activations) with ranges calibrated on real inputs. Dynamic quantization is about 4x
  *slower* than float32 on these convnets here, so it is not offered.
* :func:`cached_graph` keeps a built graph on disk (the user cache folder)
  under a key naming everything it depends on, so a new process loads it
  in milliseconds instead of exporting again.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

OPSET = 20
CALIBRATION_FILES = 256  # int8 ranges come from windows of at most this many recordings, spread over the given ones
# (on ESC-10, 64 recordings instead cost 0.25-0.5 points of accuracy, benchmarks/RESULTS.md)
CALIBRATION_WINDOWS = 256  # ... and at most this many windows in all
CALIBRATION_BATCH = 16  # windows per calibration run (one run per window took 6 s of a 30-s train)


def calibration_plan(files) -> tuple[list, int]:
    """The calibration recordings (at most :data:`CALIBRATION_FILES`, evenly spread over ``files``) and windows per recording."""

    files = list(files)
    chosen = [files[i] for i in spread(len(files), CALIBRATION_FILES)]
    return chosen, -(-CALIBRATION_WINDOWS // max(1, len(chosen)))


def spread(n: int, k: int):
    """At most ``k`` indices of ``range(n)``, evenly spread, first and last included."""
    import numpy as np

    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int)) if n else np.zeros(0, int)


def torch_to_onnx(module, example_args: tuple, input_names: list[str], output_names: list[str]) -> bytes:
    """Export ``module`` (in eval mode) to ONNX bytes with a dynamic batch axis on every input."""
    import torch

    batch = torch.export.Dim("batch")
    with torch.inference_mode(False), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        level = logging.getLogger("torch").level
        logging.getLogger("torch").setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(module, example_args, dynamo=True, opset_version=OPSET, input_names=input_names,
                                        output_names=output_names, dynamic_shapes={n: {0: batch} for n in input_names},
                                        external_data=False, verbose=False)
        finally:
            logging.getLogger("torch").setLevel(level)
    return program.model_proto.SerializeToString()


def quantize_convs(blob: bytes, feeds: list[dict]) -> bytes:
    """Static int8 (QDQ) quantization of the convolutions of graph ``blob``, calibrated on ``feeds`` (input dicts of one
    window each, run :data:`CALIBRATION_BATCH` at a time)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    inputs = {i.name for i in onnx.load_from_string(blob).graph.input}

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self):
            feed = next(self._it, None)
            return None if feed is None else {k: v for k, v in feed.items() if k in inputs}

    import numpy as np

    feeds = [{k: np.concatenate([f[k] for f in feeds[i : i + CALIBRATION_BATCH]]) for k in feeds[0]}
             for i in range(0, len(feeds), CALIBRATION_BATCH)]

    with tempfile.TemporaryDirectory(prefix="earmark-int8-") as tmp:
        src, pre, dst = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(blob)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # the first convolution stays float32: it sees the input spectrum (one channel, little work), and quantizing it
        # costs the most accuracy (a development check on ESC-10 windows: closer to float32 with it kept, same speed)
        first = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type == "Conv"][:1]
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Conv"],
                        nodes_to_exclude=first)
        return dst.read_bytes()


def session(blob_or_path, *, threads: int | None = None):
    """An onnxruntime CPU session (the process's cores, :func:`~earmark.threads.process_cores`, unless ``threads``)."""
    import onnxruntime as ort

    from earmark.threads import process_cores

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or process_cores()
    source = str(blob_or_path) if isinstance(blob_or_path, Path) else blob_or_path
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def graph_dir() -> Path:
    """Where built graphs are kept: ``onnx/`` in :func:`earmark.fileio.cache_root`."""
    from earmark.fileio import cache_root

    return cache_root() / "onnx"


def cached_graph(key: str, build: Callable[[], bytes]) -> bytes:
    """The graph named ``key``: read from :func:`graph_dir`, or built by ``build()`` and written there atomically.

    A cache folder that cannot be written costs the build in every process, nothing else.
    """
    from earmark.errors import OutputError
    from earmark.fileio import atomic_write

    path = graph_dir() / f"{key}.onnx"
    if path.is_file():
        return path.read_bytes()
    log.info("building %s (once; later runs load it from %s)", path.name, path.parent)
    blob = build()
    try:
        with atomic_write(path, "wb") as f:
            f.write(blob)
    except OutputError as exc:
        log.warning("could not keep the built graph (%s); it will be built again next time", exc)
    return blob
