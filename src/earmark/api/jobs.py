"""What the batch operations share, in one process or on a cluster: their result record and a model ready to run.

:mod:`earmark.api.inference` (one process) and :mod:`earmark.api.scaleout`
(a Dask cluster) both import from here, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earmark.pipeline import Model


@dataclass
class Batch:
    """What a batch job produced, and the inputs it skipped (``{"file", "reason"}`` each)."""

    records: list = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # on a cluster: inputs an earlier run with the same settings finished


def runnable_model(model, backend: str | None = None, calibration=None) -> Model:
    """A :class:`Model` (loaded if a path), its network run by ``backend`` (int8: calibrated on ``calibration``,
    default the model's training data)."""
    model = model if isinstance(model, Model) else Model.load(model)
    if backend == "onnx-int8":
        from earmark.api.deploy import calibration_files

        calibration = calibration_files(model, calibration)
    return model.with_backend(backend, calibration)
