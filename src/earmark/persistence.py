"""Save and load trained models as one zip file that loads without running code.

A model file (``.earmark``, format 2) is a zip holding:

- ``earmark.json``: the description: format version, earmark version, the
  model's registry name, kind and parameters, the front end's name, version
  and parameters, classes, gating, training-data summary, evaluation
  figures, provenance, and for every part its file, format, size and SHA-256;
- ``parts/NAME.json``, ``parts/NAME.skops`` (scikit-learn objects, loaded
  with an explicit list of trusted types) and ``parts/NAME.safetensors``
  (arrays): the estimator's fitted state as named parts.

Nothing is pickled. Reading checks, before inflating anything, that every
member's declared size is under a cap (so a small file cannot blow up
memory), then the description against a schema, then each safetensors
part's header (its tensors' dtypes, shapes and offsets) against the bytes the
model's description says it needs (``budget``, from the architecture: no
tensor data is read before that check), then each part's checksum.
Files of format 1 (``earmark.json`` + ``head.skops``) still load.
Writes go to a temporary file in the same folder, then are renamed.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from earmark.errors import ModelFileError
from earmark.fileio import atomic_write
from earmark.schema import validate_description, validate_fitted

FORMAT = "earmark-model"
FORMAT_VERSION = 2
MAX_JSON_BYTES = 16 << 20  # a description or JSON part larger than this is not an earmark file
MAX_PART_BYTES = 1 << 30  # no single part of a model earmark trains comes near 1 GiB
MAX_TOTAL_BYTES = 2 << 30
# Types beyond skops' defaults that earmark's heads contain; nothing else loads.
TRUSTED_TYPES = [
    "sklearn.calibration._CalibratedClassifier",  # the svm head's Platt scaling
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
]


class Tensors(dict):
    """A named part made of arrays only: stored as safetensors in a model file."""


def _encode(value) -> tuple[str, bytes]:
    if isinstance(value, Tensors):
        from safetensors.numpy import save

        return "safetensors", save({k: np.ascontiguousarray(v) for k, v in value.items()})
    if hasattr(value, "get_params"):  # a scikit-learn object
        import skops.io as sio

        return "skops", sio.dumps(value)
    return "json", json.dumps(value, sort_keys=True).encode()


def write_model_file(path: str | Path, description: dict, parts: dict) -> Path:
    """Write ``description`` and the named ``parts`` to ``path`` atomically."""
    path = Path(path)
    index, blobs = {}, {}
    for name, value in parts.items():
        fmt, blob = _encode(value)
        member = f"parts/{name}.{fmt}"
        index[name] = {"file": member, "format": fmt, "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
        blobs[member] = blob
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **description, "parts": index}
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("earmark.json", json.dumps(meta, indent=2, sort_keys=True))
        for member, blob in blobs.items():
            z.writestr(member, blob)
    return path


def read_model_file(path: str | Path, budget=None) -> tuple[dict, dict]:
    """Read a model file; return ``(description, parts)``.

    Format-1 files are returned in format 2's shape (``model``,
    ``front_end``, parts ``head`` and ``fitted``). ``budget``, if given, is
    called with the checked description and returns the most bytes of tensor
    data the model can need (see ``earmark.models.base.tensor_budget``); safetensors
    parts declaring more in all are refused before their data is read.

    Raises
    ------
    ModelFileError
        If the file is missing, not an earmark model, from a newer format,
        oversized, tampered with, malformed, or holds types outside the trusted list.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: a folder, not a model file; give the .earmark file 'earmark train --out' wrote.")
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; train one with 'earmark train DATA --out {path.name}'.")
    try:
        with zipfile.ZipFile(path) as z:
            _check_sizes(path, z)
            meta = json.loads(_read(z, "earmark.json"))
            if not isinstance(meta, dict):
                raise ModelFileError(f"{path}: not an earmark model file (its description is not an object); pass a file written by 'earmark train'.")
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"{path}: not an earmark model file (format {meta.get('format')!r}); pass a file written by 'earmark train'.")
            version = meta.get("format_version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise ModelFileError(f"{path}: the model description is malformed ('format_version' is {str(version)[:40]!r}, not a "
                                     "format number); retrain the model.")
            if version > FORMAT_VERSION:
                raise ModelFileError(
                    f"{path}: written by earmark {meta.get('earmark_version')} in model format {version}, "
                    f"newer than this earmark reads ({FORMAT_VERSION}); upgrade earmark."
                )
            if version == 1:
                meta, head_sha, fitted = _upgrade_v1(path, meta)
                validate_description(path, meta, parts=False)
                raw, given = {"head": ("skops", _read(z, "head.skops"), head_sha)}, {"fitted": fitted}
            else:
                validate_description(path, meta)
                _check_tensor_budget(path, z, meta, budget)
                raw, given = {n: (p["format"], _read(z, p["file"]), p["sha256"]) for n, p in meta["parts"].items()}, {}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not an earmark model file ({exc}); pass a file written by 'earmark train'.") from None
    parts = {name: _decode(path, name, fmt, blob, sha) for name, (fmt, blob, sha) in raw.items()} | given
    validate_fitted(path, parts["fitted"], meta["classes"])
    return meta, parts


def _check_sizes(path: Path, z: zipfile.ZipFile) -> None:
    """Refuse members whose declared inflated size is over the caps, before reading any."""
    total = 0
    for info in z.infolist():
        cap = MAX_JSON_BYTES if info.filename.endswith(".json") else MAX_PART_BYTES
        if info.file_size > cap:
            raise ModelFileError(f"{path}: member {info.filename} declares {info.file_size} bytes, over the {cap} limit; "
                                 "not a model earmark wrote, refusing to inflate it.")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise ModelFileError(f"{path}: declares {total} bytes in all, over the {MAX_TOTAL_BYTES} limit; refusing to inflate it.")


def _read(z: zipfile.ZipFile, name: str) -> bytes:
    info = z.getinfo(name)
    with z.open(info) as f:
        return f.read(info.file_size + 1)  # zipfile stops at the declared size and checks the CRC


SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def safetensors_header(path: Path, name: str, head: bytes, member_bytes: int) -> int:
    """Check a safetensors part's header (the first bytes of the member) and return its tensor data's size in bytes.

    Every tensor must have a known dtype, a shape of non-negative integers and
    offsets that hold exactly its elements, one after another, filling the
    member; nothing of the data is needed for that.
    """
    def bad(why: str):
        raise ModelFileError(f"{path}: the part {name!r} is not a valid tensor file ({why}); retrain or restore the file.")

    if len(head) < 8:
        bad("too short")
    n = int.from_bytes(head[:8], "little")
    if n > MAX_JSON_BYTES or 8 + n > len(head):
        bad(f"a header of {n} bytes")
    try:
        header = json.loads(head[8 : 8 + n])
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        bad("an unreadable header")
    if not isinstance(header, dict):
        bad("a header that is not an object")
    spans = []
    for key, t in header.items():
        if key == "__metadata__":
            continue
        ok = isinstance(t, dict) and t.get("dtype") in SAFETENSORS_DTYPES and isinstance(t.get("shape"), list) \
            and isinstance(t.get("data_offsets"), list) and len(t["data_offsets"]) == 2
        ok = ok and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in [*t["shape"], *t["data_offsets"]])
        if not ok:
            bad(f"tensor {key[:40]!r} has a malformed entry")
        begin, end = t["data_offsets"]
        if end - begin != int(np.prod(t["shape"], dtype=object)) * SAFETENSORS_DTYPES[t["dtype"]]:
            bad(f"tensor {key[:40]!r}: its offsets do not hold its shape")
        spans.append((begin, end))
    spans.sort()
    at = 0
    for begin, end in spans:
        if begin != at:
            bad("tensors overlap or leave gaps")
        at = end
    if 8 + n + at != member_bytes:
        bad(f"the tensors hold {at} bytes but the part has {member_bytes - 8 - n}")
    return at


def _check_tensor_budget(path: Path, z: zipfile.ZipFile, meta: dict, budget) -> None:
    """Refuse a model whose safetensors parts declare more tensor data than ``budget(meta)`` bytes, reading only headers."""
    if budget is None:
        return
    limit = budget(meta)
    total = 0
    for name, p in meta["parts"].items():
        if p["format"] != "safetensors":
            continue
        info = z.getinfo(p["file"])
        with z.open(info) as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            head += f.read(min(n, MAX_JSON_BYTES + 1))
        total += safetensors_header(path, name, head, info.file_size)
    if total > limit:
        raise ModelFileError(f"{path}: its tensors hold {total:,} bytes but a model of this architecture needs at most "
                             f"{limit:,}; not a model earmark wrote (extra or oversized tensors), refusing to read them.")


def _decode(path: Path, name: str, fmt: str, blob: bytes, sha: str):
    if hashlib.sha256(blob).hexdigest() != sha:
        raise ModelFileError(f"{path}: the part {name!r} inside does not match its checksum (modified or corrupted); retrain or restore the file.")
    try:
        if fmt == "json":
            return json.loads(blob)
        if fmt == "safetensors":
            from safetensors.numpy import load

            return Tensors(load(blob))
        return _load_skops(path, blob)
    except ModelFileError:
        raise
    except Exception as exc:  # skops and safetensors raise many types for malformed content
        raise ModelFileError(f"{path}: the part {name!r} cannot be read ({type(exc).__name__}: {exc}); retrain the model.") from None


def _import_skops():
    """``skops.io``, imported without torch.

    At import, skops lists scikit-learn's estimators (``all_estimators``), which
    walks every scikit-learn package, ``sklearn.externals.array_api_compat.torch``
    included, and so imports torch: 1.6 s of the 2.1 s ``earmark predict``
    spent here. A placeholder stands in for that one package during the import
    and is removed after it, so a later real import of it is untouched.
    """
    import sys

    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    import types

    name = "sklearn.externals.array_api_compat.torch"
    placeholder = sys.modules.setdefault(name, types.ModuleType(name))
    try:
        import skops.io
    finally:
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]
    return skops.io


def _load_skops(path: Path, blob: bytes):
    sio = _import_skops()

    with zipfile.ZipFile(io.BytesIO(blob)) as inner:  # a skops file is itself a zip: cap it too
        if sum(i.file_size for i in inner.infolist()) > MAX_PART_BYTES:
            raise ModelFileError(f"{path}: a scikit-learn part declares more than {MAX_PART_BYTES} bytes inflated; refusing to load it.")
    try:  # loads refuses any type beyond skops' defaults and TRUSTED_TYPES before building anything
        return sio.loads(blob, trusted=TRUSTED_TYPES)
    except sio.exceptions.UntrustedTypesFoundException:
        untrusted = [t for t in sio.get_untrusted_types(data=blob) if t not in TRUSTED_TYPES]
        raise ModelFileError(f"{path}: holds types earmark does not trust ({', '.join(untrusted)}); refusing to load it.") from None


def _upgrade_v1(path: Path, meta: dict) -> tuple[dict, str, dict]:
    """A format-1 description (embedder + one skops head) in format 2's shape, the head's SHA-256, and its ``fitted`` part."""
    try:
        c = meta["classifier"]
        description = {
            "format": FORMAT, "format_version": 1, "earmark_version": meta.get("earmark_version"),
            "model": {"name": c["name"], "kind": "embedding head",
                      "params": {"classifier": c["name"], "aggregation": c["aggregation"], "classifier_params": c["params"] or None,
                                 "random_state": c["random_state"]}},
            "front_end": meta["embedder"], "classes": meta["classes"], "gate_db": meta.get("gate_db"),
            "info": meta.get("info", {}),
        }
        return description, meta["head_sha256"], {"classes": meta["classes"], "feature_shape": [meta["n_features"]]}
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: model description (format 1) is incomplete (missing {exc}); retrain the model.") from None
