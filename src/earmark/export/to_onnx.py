"""A trained model as one ONNX graph: a window of audio samples in, class probabilities out.

The graph holds the preprocessing (framing, Hann window, FFT, mel bands, the
front end's scaling), the pretrained network when there is one, and the
classifier: an embedding head through skl2onnx, a network trained here
through torch's ONNX exporter. Its inputs are ``audio`` ``(batch, samples)``
and, for ``aisfx``, ``peak`` ``(batch, 1)`` (the file's peak, which the
front end normalises by); its outputs ``probabilities`` ``(batch, classes)``
and ``level_db`` ``(batch,)`` (for the gate). The settings a runner needs
(classes, sample rate, framing, gate, aggregation) travel in the graph's
metadata under ``earmark``; :mod:`earmark.export.runner` reads them.

int8: static quantization (onnxruntime's QDQ format, per-channel int8
weights, uint8 activations) of the convolutions, with ranges calibrated on
windows of real recordings (the training data). The FFT, the mel projection
and the logarithm stay in float32: their dynamic range does not survive 8
bits, and they are a small part of the work.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np

from earmark._version import __version__
from earmark.embeddings.onnxrt import CALIBRATION_WINDOWS, OPSET, calibration_plan, quantize_convs, spread, torch_to_onnx
from earmark.errors import ParameterError
from earmark.export.runner import cut_windows
from earmark.pipeline import Model

log = logging.getLogger(__name__)


@dataclass
class OnnxExport:
    """An exported graph in memory, and its settings."""

    proto: object  # onnx.ModelProto
    meta: dict

    def to_bytes(self) -> bytes:
        return self.proto.SerializeToString()


def check_exportable(model: Model) -> None:
    """Raise :class:`ParameterError` (with the fix) when the model has parts the ONNX graph cannot hold."""
    est = model.estimator
    if est.export_kind not in ("head", "network"):
        raise ParameterError(f"Model {model.name!r} ({type(est).__name__}) cannot be exported to ONNX yet; embedding heads "
                             "(logreg, svm, knn, rf, mlp) and networks trained here (sbcnn, crnn, kws-crnn, wavecnn, finetune:aisfx, ...) can.")
    if est.calibration != "none" or est.reject != "none":
        raise ParameterError(f"Model {model.name!r} was trained with calibration={est.calibration!r}, reject={est.reject!r}; the "
                             "ONNX export holds plain probabilities: retrain it without calibration and reject to export it.")
    if est.export_kind == "head" and est.is_tagger:
        raise ParameterError("A tagger on an embedding head cannot be exported to ONNX yet; a network tagger (sbcnn, crnn) can.")


def build_onnx(model: Model) -> OnnxExport:
    """The model as one ONNX graph (float32) with its settings in the metadata."""
    import onnx

    from earmark.export.graphs import front_graph

    check_exportable(model)
    fg = front_graph(model.front_end)
    if model.estimator.export_kind == "head":
        front = _to_onnx(fg, None, ["features", "level_db"])
        proto = _append_head(front, model.estimator)
    else:
        from earmark.export.graphs import NetworkScores

        proto = _to_onnx(fg, NetworkScores(model.estimator), ["probabilities", "level_db"])
    est = model.estimator
    meta = {
        "format": "earmark-onnx/1",
        "earmark_version": __version__,
        "model": model.name,
        "front_end": {**model.front_end.identity(), "hop_s": float(model.front_end.hop_s)},
        "classes": model.classes,
        "sample_rate": int(model.front_end.sample_rate),
        "window_samples": fg.window_samples,
        "window_s": float(model.front_end.window_s),
        "hop_s": float(model.front_end.hop_s),
        "framing": fg.framing,
        "gate_db": model.gate_db,
        "aggregation": getattr(est, "aggregation", "mean"),
        "tagger": bool(est.is_tagger),
        "thresholds": [float(t) for t in est.thresholds_] if est.is_tagger else None,
        "int8": False,
        "source": {k: model.info[k] for k in ("trained_at", "earmark_version", "data") if k in model.info},
    }
    onnx.helper.set_model_props(proto, {"earmark": json.dumps(meta)})
    onnx.checker.check_model(proto)
    return OnnxExport(proto, meta)


def _to_onnx(fg, scores, output_names: list[str]):
    """Export the front end (and ``scores``, a module on its features) with torch's exporter, in memory."""
    import onnx
    import torch
    from torch import nn

    from earmark.export.graphs import FrontAndNetwork

    module = FrontAndNetwork(fg.module, scores if scores is not None else nn.Identity(), fg.uses_peak).eval()
    rng = np.random.default_rng(0)
    audio = torch.from_numpy(rng.standard_normal((2, fg.window_samples)).astype(np.float32) * 0.1)
    proto = onnx.load_from_string(torch_to_onnx(module, (audio, torch.ones(2, 1)), ["audio", "peak"], output_names))
    if not fg.uses_peak:  # the input the front end ignores is dropped by the exporter, or kept unused: never required
        _drop_input(proto, "peak")
    return proto


def _drop_input(proto, name: str) -> None:
    used = {i for node in proto.graph.node for i in node.input}
    for inp in list(proto.graph.input):
        if inp.name == name and name not in used:
            proto.graph.input.remove(inp)


def _append_head(front, estimator):
    """Join the scikit-learn head (skl2onnx) to the front end's graph, on its ``features`` output."""
    import onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    head = estimator.head_
    if not np.array_equal(np.asarray(head.classes_), np.arange(len(estimator.classes_))):
        raise ParameterError("The head never saw some of the model's classes in training; retrain with clips of every class to export it.")
    dims = int(np.prod(estimator.feature_shape_))
    options = {id(head.steps[-1][1]): {"zipmap": False}}
    target = {"": OPSET, "ai.onnx.ml": 3}
    graph = convert_sklearn(head, initial_types=[("features", FloatTensorType([None, dims]))], options=options,
                            target_opset=target)
    graph = onnx.compose.add_prefix(graph, "head_", rename_inputs=False)
    graph.ir_version = front.ir_version
    _align_opsets(front, graph)
    prob_name = graph.graph.output[1].name  # (label, probabilities)
    merged = onnx.compose.merge_models(front, graph, io_map=[("features", "features")], outputs=[prob_name, "level_db"])
    _rename_output(merged, prob_name, "probabilities")
    _align_opsets(merged, merged)  # merge_models lists each domain once per input graph
    return merged


def _align_opsets(a, b) -> None:
    """Give both graphs the same opset per domain (merge_models requires it)."""
    versions = {}
    for proto in (a, b):
        for op in proto.opset_import:
            versions[op.domain] = max(versions.get(op.domain, 0), op.version)
    for proto in (a, b):
        del proto.opset_import[:]
        for domain, version in versions.items():
            proto.opset_import.add(domain=domain, version=version)


def _rename_output(proto, old: str, new: str) -> None:
    """Rename a graph output, and every use of that value, so its name is the contract's."""
    for node in proto.graph.node:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
    for out in proto.graph.output:
        if out.name == old:
            out.name = new


# --- int8 --------------------------------------------------------------------------------
def calibration_windows(export: OnnxExport, files) -> list[dict]:
    """Input feeds for int8 calibration: windows of real recordings spread over ``files``
    (:func:`~earmark.embeddings.onnxrt.calibration_plan`)."""
    from earmark.audio import load

    files = list(files)
    if not files:
        raise ParameterError("int8 export needs calibration audio; pass the training data with --calibration-data DIR.")
    meta = export.meta
    chosen, per_file = calibration_plan(files)
    feeds = []
    for path in chosen:
        try:
            y, _ = load(path, sr=meta["sample_rate"])
        except Exception as exc:  # noqa: BLE001 - an unreadable calibration file is skipped, the rest calibrate
            log.info("calibration: skipping %s (%s)", path, exc)
            continue
        windows = cut_windows(y, meta["framing"])
        peak = max(float(np.abs(y).max()) if len(y) else 0.0, 1e-9)
        feeds += [{"audio": windows[i : i + 1], "peak": np.array([[peak]], np.float32)} for i in spread(len(windows), per_file)]
    if not feeds:
        raise ParameterError("None of the calibration files could be read; pass a folder of the training recordings with --calibration-data.")
    return feeds[:CALIBRATION_WINDOWS]


def quantize_int8(export: OnnxExport, feeds: list[dict]) -> OnnxExport:
    """Static int8 (QDQ) quantization of the graph's convolutions, calibrated on ``feeds``."""
    import onnx

    proto = onnx.load_from_string(quantize_convs(export.to_bytes(), feeds))
    meta = {**export.meta, "int8": True, "calibration_windows": len(feeds)}
    onnx.helper.set_model_props(proto, {"earmark": json.dumps(meta)})
    return OnnxExport(proto, meta)
