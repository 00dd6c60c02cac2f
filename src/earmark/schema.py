"""The schema of a model file's description, checked field by field on load.

A hand-edited or foreign description gets one :class:`ModelFileError`
naming the field, what it holds and what it should hold, never a traceback.
"""

from __future__ import annotations

import math
from pathlib import Path

from earmark.errors import ModelFileError

_NUMBER = (int, float)
PART_FORMATS = ("json", "skops", "safetensors")


def _fail(path: Path, field: str, value, expected: str):
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise ModelFileError(f"{path}: the model description is malformed ('{field}' is {shown}, expected {expected}); retrain the model.")


def _is(value, types) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def _dict(path, meta, field) -> dict:
    value = meta.get(field.rsplit(".", 1)[-1], None) if isinstance(meta, dict) else None
    if not isinstance(value, dict):
        _fail(path, field, value, "an object")
    return value


def _str(path, meta, field, *, optional: bool = False) -> None:
    value = meta.get(field.rsplit(".", 1)[-1])
    if not (isinstance(value, str) or (optional and value is None)):
        _fail(path, field, value, "a string")


MAX_CLASSES = 100_000
MAX_NAME = 1000


def _number(path, meta, field, *, low: float, high: float, optional: bool = False, expected: str) -> None:
    """A numeric field: finite and in ``[low, high]`` (NaN, infinities and booleans are never numbers here)."""
    value = meta.get(field.rsplit(".", 1)[-1])
    if value is None and optional:
        return
    if not (_is(value, _NUMBER) and math.isfinite(value) and low <= value <= high):
        _fail(path, field, value, expected)


def validate_description(path: str | Path, meta: dict, *, parts: bool = True) -> None:
    """Check every field earmark reads from a model description.

    Raises
    ------
    ModelFileError
        Naming the first field that is missing or of the wrong type.
    """
    path = Path(path)
    _str(path, meta, "earmark_version", optional=True)
    model = _dict(path, meta, "model")
    _str(path, model, "model.name")
    _str(path, model, "model.kind")
    _dict(path, model, "model.params")
    front = _dict(path, meta, "front_end")
    _str(path, front, "front_end.name")
    _str(path, front, "front_end.version")
    _dict(path, front, "front_end.params")
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) < 1 or not all(_is(c, (str, int)) for c in classes):
        _fail(path, "classes", classes, "a list of class names (at least 2, or 1 tag for a tagger)")
    if len(classes) > MAX_CLASSES:
        _fail(path, "classes", f"{len(classes):,} names", f"at most {MAX_CLASSES:,} classes")
    if len({str(c) for c in classes}) != len(classes) or any(len(str(c)) > MAX_NAME for c in classes):
        _fail(path, "classes", classes, f"distinct class names of at most {MAX_NAME} characters")
    if meta.get("gate_db") != float("-inf"):  # -inf: every window kept
        _number(path, meta, "gate_db", low=-200.0, high=0.0, optional=True, expected="a number of dBFS in [-200, 0], -inf or null")
    _number(path, front, "front_end.hop_s", low=1e-4, high=600.0, optional=True, expected="seconds in (0, 600]")
    if not isinstance(meta.get("info", {}), dict):
        _fail(path, "info", meta.get("info"), "an object")
    if parts:
        for name, p in _dict(path, meta, "parts").items():
            if not isinstance(p, dict):
                _fail(path, f"parts.{name}", p, "an object")
            if not isinstance(p.get("file"), str) or p.get("format") not in PART_FORMATS or not isinstance(p.get("sha256"), str):
                _fail(path, f"parts.{name}", p, f"file, format ({', '.join(PART_FORMATS)}) and sha256")
        if "fitted" not in meta["parts"]:
            _fail(path, "parts", sorted(meta["parts"]), "a 'fitted' part")


def validate_fitted(path: str | Path, fitted, classes: list) -> None:
    """Check the ``fitted`` part (classes and window feature shape) against the description."""
    path = Path(path)
    if not isinstance(fitted, dict):
        _fail(path, "parts.fitted", fitted, "an object")
    shape = fitted.get("feature_shape")
    if not isinstance(shape, list) or not shape or not all(_is(d, int) and d > 0 for d in shape):
        _fail(path, "fitted.feature_shape", shape, "a list of positive integers")
    if fitted.get("classes") != classes:
        _fail(path, "fitted.classes", fitted.get("classes"), f"the description's classes {classes}")
    tagger = fitted.get("multilabel", False)
    if not isinstance(tagger, bool):
        _fail(path, "fitted.multilabel", tagger, "true or false")
    if not tagger and len(classes) < 2:
        _fail(path, "classes", classes, "a list of at least 2 class names (1 is allowed for a tagger only)")
    thresholds = fitted.get("thresholds", [0.5] * len(classes))
    if not isinstance(thresholds, list) or len(thresholds) != len(classes) or not all(_is(t, (int, float)) and 0 <= t <= 1 for t in thresholds):
        _fail(path, "fitted.thresholds", thresholds, f"a list of {len(classes)} numbers in [0, 1]")
    if "reject_threshold" in fitted:
        value = fitted["reject_threshold"]
        if not _is(value, (int, float)) or not math.isfinite(value):
            _fail(path, "fitted.reject_threshold", value, "a number (the 'unknown' threshold)")
