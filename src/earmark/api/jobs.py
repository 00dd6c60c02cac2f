"""The batch operations' jobs (:mod:`earmark.batch`): predict and detect on one file, in this process or on a worker.

A job holds the model file's bytes and the :class:`Runtime` it runs under
(backend, int8's calibration recordings, the embedding cache), so a
cluster's workers each load the model once; in this process it holds the
loaded model instead (never pickled). :mod:`earmark.api.inference` runs them
through one executor, local or Dask.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from earmark.batch import FileJob
from earmark.errors import ParameterError
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


def model_payload(model) -> bytes:
    """The bytes of ``model``'s file (a path, or a :class:`Model` saved to a temporary file)."""
    if isinstance(model, (str, Path)):
        return Path(model).read_bytes()
    if not isinstance(model, Model):
        raise ParameterError(f"model must be a model file or an earmark Model, not {type(model).__name__}.")
    with tempfile.TemporaryDirectory() as tmp:
        return model.save(Path(tmp) / "model.earmark").read_bytes()


@dataclass(frozen=True)
class Runtime:
    """How a job runs its model: its backend, int8's calibration recordings (resolved by the client) and the
    embedding cache (``cache_dir``, None: the default folder; ``use_cache``)."""

    backend: str | None = None
    calibration: tuple[str, ...] = ()
    cache_dir: str | None = None
    use_cache: bool = False

    @classmethod
    def resolve(cls, model: Model, backend: str | None, calibration=None, cache_dir=None, use_cache: bool = False) -> Runtime:
        """The runtime for ``model``, with int8's calibration files checked here, before any work (``calibration``,
        else the model's training data)."""
        cache = {"cache_dir": None if cache_dir is None else str(Path(cache_dir).resolve()), "use_cache": bool(use_cache)}
        if backend != "onnx-int8":
            return cls(backend, **cache)
        from earmark.api.deploy import calibration_files

        return cls(backend, tuple(str(Path(f).resolve()) for f in calibration_files(model, calibration)), **cache)

    @property
    def key(self) -> dict:
        """What changes a run's results (the cache does not)."""
        return {"backend": self.backend, "calibration": list(self.calibration)}

    @cached_property
    def cache(self):
        """The embedding cache, one per runtime and process (it remembers a folder it could not write to)."""
        from earmark.embeddings import EmbeddingCache

        return EmbeddingCache(self.cache_dir, enabled=self.use_cache)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "cache"}  # each process makes its own

    def model(self, source) -> Model:
        """``source`` (a :class:`Model` or a model file) made runnable under this runtime."""
        return runnable_model(source, self.backend, list(self.calibration) or None)


def worker_model(payload: bytes, runtime: Runtime, digest: str) -> Model:
    """The model in ``payload`` (whose SHA-256 is ``digest``), loaded once per worker process and :class:`Runtime`:
    int8 is calibrated on the recordings the client resolved, never on the worker's own idea of the training data."""
    from earmark.scale import worker_cached

    def load():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.earmark"
            path.write_bytes(payload)
            return runtime.model(path)

    return worker_cached(f"model/{digest}/{runtime.backend}/{'|'.join(runtime.calibration)}", load)


@dataclass
class ModelJob(FileJob):
    """A job that runs a model: on a worker, from its file's bytes (``payload``), loaded once per process; here, the
    model already ``loaded`` (never pickled; on a cluster's client it is the model as saved, which plans the
    stretches of long recordings without building the run's backend)."""

    payload: bytes | None
    runtime: Runtime
    loaded: Model | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "loaded": None}

    @cached_property
    def digest(self) -> str:
        """The payload's SHA-256, once per process (the key of the worker's loaded model)."""
        return hashlib.sha256(self.payload).hexdigest()

    @property
    def model(self) -> Model:
        return self.loaded if self.loaded is not None else worker_model(self.payload, self.runtime, self.digest)

    def front(self):
        return self._windows(self.model.front_end)

    def _windows(self, front):
        """The front end as this job takes its windows (a detect job: at its own hop)."""
        return front


@dataclass
class PredictJob(ModelJob):
    """A file's :class:`~earmark.pipeline.Prediction`, its ``top_k`` labels."""

    top_k: int = 1
    description = "classifying"

    def run(self, path: str, emb=None):
        model = self.model
        top_k = min(self.top_k, len(model.classes))
        if emb is not None:
            return model.predict_embedding(emb, path, top_k=top_k)
        return model.predict(path, top_k=top_k, cache=self.runtime.cache)[0]


@dataclass
class DetectJob(ModelJob):
    """A recording's events (:func:`earmark.inference.detect.detect`); ``labeller`` (this process only) names them."""

    settings: object = None
    hop_s: float | None = None
    labeller: Model | None = field(default=None, repr=False)
    description = "detecting"

    def run(self, path: str, emb=None) -> dict:
        from earmark.inference.detect import detect

        return detect(self.model, Path(path) if emb is None else emb, recording=Path(path), settings=self.settings,
                      hop_s=self.hop_s, cache=self.runtime.cache, labeller=self.labeller)

    def _windows(self, front):
        return front.with_hop(self.hop_s) if self.hop_s else front

    def audio_s(self, result) -> float:
        return float(result["duration_s"])


@dataclass
class DiariseJob(FileJob):
    """Who speaks when in a recording, against a voice database (this process only)."""

    db: object
    encoder: object
    settings: object
    threshold: float | None
    hop_s: float | None
    runtime: Runtime
    description = "detecting"

    def run(self, path: str, emb=None) -> dict:
        from earmark.inference.voices import diarise

        return diarise(self.db, self.encoder, Path(path), settings=self.settings, threshold=self.threshold, hop_s=self.hop_s,
                       cache=self.runtime.cache)
