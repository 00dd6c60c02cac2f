"""Save and load trained models as one zip file that loads without running code.

The file (``.earmark``) is a zip holding:

- ``earmark.json``: format version, earmark version, classes, the embedder's
  name, version and parameters, gating and aggregation settings, the
  classifier's settings, a summary of the training data, evaluation figures
  when known, and the SHA-256 of ``head.skops``;
- ``head.skops``: the fitted scikit-learn pipeline in skops format, loaded
  with an explicit list of trusted types (no pickle of arbitrary objects).

Writes go to a temporary file in the same folder, then are renamed.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from earmark.errors import ModelFileError
from earmark.fileio import atomic_write

FORMAT = "earmark-model"
FORMAT_VERSION = 1
# Types beyond skops' defaults that earmark's heads contain; nothing else loads.
TRUSTED_TYPES = [
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
]


def write_model_file(path: str | Path, meta: dict, head) -> Path:
    """Write ``meta`` and the fitted scikit-learn ``head`` to ``path`` atomically."""
    import skops.io as sio

    path = Path(path)
    blob = sio.dumps(head)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta, "head_sha256": hashlib.sha256(blob).hexdigest()}
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("earmark.json", json.dumps(meta, indent=2, sort_keys=True))
        z.writestr("head.skops", blob)
    return path


def read_model_file(path: str | Path) -> tuple[dict, object]:
    """Read a model file; return ``(meta, head)``.

    Raises
    ------
    ModelFileError
        If the file is missing, not an earmark model, from a newer format,
        tampered with, or holds types outside the trusted list.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; train one with 'earmark train DATA --out {path.name}'.")
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("earmark.json"))
            blob = z.read("head.skops")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise ModelFileError(f"{path}: not an earmark model file ({exc}); pass a file written by 'earmark train'.") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an earmark model file (format {meta.get('format')!r}); pass a file written by 'earmark train'.")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written by earmark {meta.get('earmark_version')} in model format {meta['format_version']}, "
            f"newer than this earmark reads ({FORMAT_VERSION}); upgrade earmark."
        )
    if hashlib.sha256(blob).hexdigest() != meta.get("head_sha256"):
        raise ModelFileError(f"{path}: the classifier inside does not match its checksum (modified or corrupted); retrain or restore the file.")
    untrusted = [t for t in sio.get_untrusted_types(data=blob) if t not in TRUSTED_TYPES]
    if untrusted:
        raise ModelFileError(f"{path}: holds types earmark does not trust ({', '.join(untrusted)}); refusing to load it.")
    try:
        head = sio.loads(blob, trusted=TRUSTED_TYPES)
    except Exception as exc:  # skops raises many types for malformed content
        raise ModelFileError(f"{path}: the classifier inside cannot be read ({type(exc).__name__}: {exc}); retrain the model.") from None
    return meta, head
