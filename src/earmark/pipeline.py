"""A trained earmark model: a front end, a fitted clip model, and how they were made.

The front end (an embedder or feature extractor, see :mod:`earmark.embeddings`)
turns audio into window features; the estimator (any registered
:class:`~earmark.models.base.ClipModel`) turns window features into class
scores. :meth:`Model.window_scores` is the one path from audio to scored
windows, with quiet-window gating in one place; ``predict``, ``detect`` and
``listen`` all go through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from earmark._version import __version__
from earmark.embeddings import Embedder, EmbeddingCache, get_embedder
from earmark.embeddings.base import Embedding
from earmark.errors import ModelFileError, ParameterError, one_line
from earmark.models.base import ClipModel, tensor_budget
from earmark.models.registry import get_model, model_spec
from earmark.persistence import read_model_file, write_model_file

log = logging.getLogger(__name__)

UNKNOWN = "unknown"  # what a model with a rejection threshold answers for none of its classes
SILENCE_DB = -100.0  # with gating off, a clip whose loudest window is below this is digital silence
_MODEL_GATE = object()


def is_silent(emb: Embedding, gate_db: float | None, window_s: float) -> bool:
    """True when the clip's audio never reaches the gate (with no gate: when it is digital silence).

    A clip shorter than one window was zero-padded to it, which lowers its
    window's level by ``10 log10(window_s / duration_s)`` dB; that is added
    back, so a short, quiet but real sound is not taken for silence.
    """
    if len(emb.level_db) == 0:
        return True
    floor = SILENCE_DB if gate_db is None else gate_db
    padding_db = 10 * np.log10(window_s / emb.duration_s) if 0 < emb.duration_s < window_s else 0.0
    return float(np.max(emb.level_db)) + padding_db < floor


def gated_features(emb: Embedding, gate_db: float | None, window_s: float) -> np.ndarray | None:
    """The window features at or above ``gate_db`` (the loudest one if none is); ``None`` if the clip is silent."""
    return None if is_silent(emb, gate_db, window_s) else emb.gated(gate_db)


@dataclass
class Prediction:
    """The classes of one file, most probable first (none when the file is silent)."""

    path: Path
    labels: list[str]
    scores: list[float]
    n_windows: int
    silent: bool = False
    tagger: bool = False  # labels are every tag at or above its threshold (none: an empty label)
    unknown: bool = False  # below the model's "none of these" threshold (labels are then the closest classes)
    known_score: float | None = None  # the rejection score (see earmark.models.openset), for models that reject

    @property
    def label(self) -> str:
        if self.unknown:
            return UNKNOWN
        if self.tagger and not self.silent:
            return ";".join(self.labels)
        return self.labels[0] if self.labels else "(silent)"

    @property
    def score(self) -> float:
        return self.scores[0] if self.scores else float("nan")

    def row(self) -> dict:
        """The prediction as the CLI's JSON (and, flattened, CSV) output writes it."""
        p = self
        return {"file": str(p.path), "label": p.label, "score": None if p.silent or not p.scores else round(p.score, 4), "silent": p.silent,
                "next": [] if p.tagger else [{"label": lab, "score": round(s, 4)} for lab, s in zip(p.labels[1:], p.scores[1:])],
                **({"unknown": p.unknown, "closest": p.labels[0] if p.unknown and p.labels else None,
                    "known_score": None if p.known_score is None else round(p.known_score, 4)} if p.unknown or p.known_score is not None else {})}

    @staticmethod
    def csv_header(top_k: int, *, closest: bool = False) -> list[str]:
        """CSV columns for ``top_k`` labels after the first; ``closest`` (models that reject): the class an ``unknown``
        clip is closest to, in a last column."""
        return (["file", "label", "score"] + [c for i in range(1, top_k + 1) for c in (f"label_{i + 1}", f"score_{i + 1}")]
                + (["closest"] if closest else []))

    @staticmethod
    def csv_row(row: dict, top_k: int, *, closest: bool = False) -> list:
        """A :meth:`row` as CSV cells under :meth:`csv_header`."""
        nxt = [v for n in row["next"] for v in (n["label"], n["score"])]
        cells = [row["file"], row["label"], "" if row["score"] is None else row["score"]] + nxt + [""] * (2 * top_k - len(nxt))
        return cells + ([row.get("closest") or ""] if closest else [])


@dataclass
class WindowScores:
    """Class scores of every analysis window of one recording.

    Attributes
    ----------
    scores : np.ndarray [shape=(n_windows, n_classes)]
        Zero for gated (quiet) windows.
    times_s : np.ndarray [shape=(n_windows,)]
        Window centres in seconds.
    level_db : np.ndarray [shape=(n_windows,)]
    gated : np.ndarray [shape=(n_windows,), dtype=bool]
        True for windows below the gate, which were not classified.
    unknown : np.ndarray [shape=(n_windows,), dtype=bool]
        True for windows below the model's "none of these" threshold (their scores are zeroed).
    duration_s, window_s, hop_s : float
    classes : list of str
    """

    scores: np.ndarray
    times_s: np.ndarray
    level_db: np.ndarray
    gated: np.ndarray
    duration_s: float
    window_s: float
    hop_s: float
    classes: list[str]
    unknown: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.unknown is None:
            self.unknown = np.zeros(len(self.scores), bool)


@dataclass
class Model:
    """A front end, a fitted clip model, and how they were made.

    Attributes
    ----------
    front_end : Embedder
    estimator : ClipModel
        Fitted; its registry name is ``name``.
    name : str
        The estimator's name in :data:`earmark.models.MODELS`.
    gate_db : float or None
        Windows quieter than this (dBFS) are ignored; a clip with none louder is silent.
    info : dict
        Training data summary, evaluation figures, provenance.
    """

    front_end: Embedder
    estimator: ClipModel
    name: str
    gate_db: float | None = -60.0
    info: dict = field(default_factory=dict)

    @property
    def embedder(self) -> Embedder:
        """The front end (the name earlier versions used)."""
        return self.front_end

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.estimator.classes_]

    def with_backend(self, backend: str | None, calibration=None) -> Model:
        """This model with its ``aisfx`` network run by ``backend`` (``auto``, ``torch``, ``onnx``, ``onnx-int8``; ``None``: as is).

        ``calibration``: the recordings that set the int8 ranges (``onnx-int8``).
        The front end's identity changes with the backend, so cached
        embeddings of one backend never stand in for another's.
        """
        front = self.front_end.with_backend(backend, calibration)
        return self if front is self.front_end else Model(front, self.estimator, self.name, self.gate_db, self.info)

    def embed(self, source, *, cache: EmbeddingCache | None = None, front: Embedder | None = None) -> Embedding:
        """Window features of a file (through ``cache``, by ``front``, default the model's) or an :class:`Embedding` as is."""
        if isinstance(source, Embedding):
            return source
        return (cache or EmbeddingCache(enabled=False)).get(front or self.front_end, source)

    def window_scores(self, source, *, cache: EmbeddingCache | None = None, hop_s: float | None = None,
                      gate_db=_MODEL_GATE) -> WindowScores:
        """Score every window of ``source`` (a file or an :class:`Embedding`); windows below the gate score zero.

        ``gate_db`` defaults to the model's own; ``hop_s`` takes windows more
        densely than in training (the features are the same kind).
        """
        gate = self.gate_db if gate_db is _MODEL_GATE else gate_db
        front = self.front_end.with_hop(hop_s) if hop_s else self.front_end
        emb = self.embed(source, cache=cache, front=front)
        quiet = np.zeros(len(emb.vectors), bool) if gate is None else emb.level_db < gate
        scores = np.zeros((len(emb.vectors), len(self.classes)))
        unknown = np.zeros(len(emb.vectors), bool)
        if (~quiet).any() and getattr(self.estimator, "reads_sequence", False):  # scored as one sequence, so the quiet frames stay in it
            scores[~quiet] = self.estimator.window_proba(emb.vectors)[~quiet]
        elif (~quiet).any():
            scores[~quiet] = self.estimator.window_proba(emb.vectors[~quiet])
            if self.estimator.rejects:
                windows = emb.vectors[~quiet][:, None]
                unknown[~quiet] = self.estimator.known_scores(list(windows), scores[~quiet]) < self.estimator.reject_threshold_
                scores[unknown] = 0.0
        return WindowScores(scores, emb.times_s, emb.level_db, quiet, emb.duration_s, front.window_s, front.hop_s, self.classes, unknown)

    def predict_proba(self, paths, *, cache: EmbeddingCache | None = None) -> np.ndarray:
        """Clip probabilities for audio files, ``(n_files, n_classes)``; a silent file's row is NaN.

        Raises
        ------
        AudioLoadError
            For the first file that cannot be read.
        """
        rows = [self._clip_proba(self.embed(p, cache=cache)) for p in _paths(paths)]
        return np.array([np.full(len(self.classes), np.nan) if r is None else r for r in rows]).reshape(len(rows), len(self.classes))

    def predict(self, paths, *, top_k: int = 1, cache: EmbeddingCache | None = None) -> list[Prediction]:
        """Top-``top_k`` labels and scores for each file (``paths``: one path or several); a tagger gives every tag at or
        above its threshold, highest first (none: the file holds none of the tags)."""
        return [self.predict_embedding(self.embed(p, cache=cache), p, top_k=top_k) for p in _paths(paths)]

    def predict_embedding(self, emb: Embedding, path, *, top_k: int = 1) -> Prediction:
        """:meth:`predict` of the file ``path`` whose window features ``emb`` are already made (by stretches, say)."""
        est = self.estimator
        x = gated_features(emb, self.gate_db, self.front_end.window_s)
        if x is None:
            return Prediction(Path(path), [], [], len(emb.vectors), silent=True, unknown=est.rejects)
        proba = est.predict_proba([x])[0]
        order = np.argsort(-proba, kind="stable")
        score = None
        if est.rejects:
            score = float(est.known_scores([x], proba[None])[0])
            if score < est.reject_threshold_:
                k = order[: max(1, top_k)]
                return Prediction(Path(path), [self.classes[i] for i in k], [float(proba[i]) for i in k], len(emb.vectors),
                                  unknown=True, known_score=score)
        if est.is_tagger:
            above = [i for i in order if proba[i] >= est.thresholds_[i]]
            return Prediction(Path(path), [self.classes[i] for i in above], [float(proba[i]) for i in above], len(emb.vectors),
                              tagger=True, known_score=score)
        order = order[: max(1, top_k)]
        return Prediction(Path(path), [self.classes[i] for i in order], [float(proba[i]) for i in order], len(emb.vectors),
                          known_score=score)

    def _clip_proba(self, emb: Embedding) -> np.ndarray | None:
        """One clip's class probabilities from its gated windows; ``None`` if it is silent."""
        x = gated_features(emb, self.gate_db, self.front_end.window_s)
        return None if x is None else self.estimator.predict_proba([x])[0]

    def to_dict(self) -> dict:
        """The description saved with the model: everything but the fitted state, JSON-serialisable."""
        try:
            spec = model_spec(self.name)
        except ParameterError:
            raise ParameterError(f"Model {self.name!r} is not registered, so a file of it could not be loaded again; "
                                 "register it with earmark.models.register_model before saving.") from None
        return {
            "earmark_version": __version__,
            "model": {"name": self.name, "kind": spec.kind, "params": _json_params(self.estimator)},
            "front_end": front_end_description(self.front_end),
            "classes": self.classes,
            "gate_db": self.gate_db,
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model to one file atomically (see :mod:`earmark.persistence`)."""
        return write_model_file(path, self.to_dict(), self.estimator.fitted_parts())

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Load a model file written by :meth:`save` (or by earmark 0.1's format 1); runs no code from the file.

        Raises
        ------
        ModelFileError
            If the file cannot be used here, with the reason and the fix.
        """
        built = {}

        def budget(meta: dict) -> int:
            built["front"] = _front_end(path, meta["front_end"])
            try:
                built["estimator"] = get_model(meta["model"]["name"], **meta["model"]["params"])
                built["estimator"].check_params()  # every size in range before anything is built from them
            except (ParameterError, TypeError) as exc:
                raise ModelFileError(f"{path}: its model cannot be rebuilt here ({as_field(exc)}); retrain the model.") from None
            return tensor_budget(meta, built["front"].feature_shape, built["estimator"])

        meta, parts = read_model_file(path, budget=budget)
        name = meta["model"]["name"]
        front = built.get("front") or _front_end(path, meta["front_end"])
        try:
            estimator = built.get("estimator") or get_model(name, **meta["model"]["params"])
            estimator.restore_parts(parts)
        except ParameterError as exc:
            raise ModelFileError(f"{path}: its model cannot be rebuilt here ({as_field(exc)}); retrain the model.") from None
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{path}: its fitted state is incomplete or malformed ({one_line(exc)}); retrain the model.") from None
        expected = front.feature_shape
        if tuple(estimator.feature_shape_) != tuple(expected):
            raise ModelFileError(f"{path}: the model expects window features {tuple(estimator.feature_shape_)} but front end "
                                 f"{front.name} gives {tuple(expected)}; retrain.")
        return cls(front, estimator, name, meta.get("gate_db"), meta.get("info", {}))


def as_field(exc: Exception) -> str:
    """A parameter error about a value read from a model file, worded as the file's field ("the field 'n_fft' must
    be ..."), so the command line does not present it as one of its options."""
    import re

    return re.sub(r"The '(\w+)' parameter", r"the field '\1'", str(exc))


def _paths(paths) -> list:
    """One path or a sequence of them."""
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def _json_params(estimator: ClipModel) -> dict:
    import json

    params = estimator.get_params(deep=False)
    try:
        json.dumps(params)
    except TypeError as exc:
        raise ParameterError(f"{type(estimator).__name__} parameters must be JSON values to be saved ({exc}).") from None
    return params


def _front_end(path, emb_meta: dict) -> Embedder:
    try:
        front = rebuild_front_end(emb_meta)
    except ParameterError as exc:
        raise ModelFileError(f"{path}: its front end cannot be built here ({as_field(exc)}); retrain the model.") from None
    recorded = {k: emb_meta[k] for k in ("name", "version", "params")}
    if front.identity() != recorded:
        raise ModelFileError(
            f"{path}: trained with front end {emb_meta['name']} version {emb_meta['version']} {emb_meta['params']}, "
            f"this earmark builds version {front.version} {front.params()}; retrain the model."
        )
    return front


def front_end_description(front: Embedder) -> dict:
    """What a file records of a front end so :func:`rebuild_front_end` can build it again: identity, ``hop_s``, licence."""
    return {**front.identity(), "hop_s": float(front.hop_s), "licence": front.licence, "commercial_use": front.commercial_use}


def rebuild_front_end(emb_meta: dict) -> Embedder:
    """The front end :func:`front_end_description` described (its identity may differ if this earmark builds it differently).

    Raises
    ------
    ParameterError
        If the front end is unknown here or its parameters are not accepted.
    """
    return get_embedder(emb_meta["name"], **_init_params(emb_meta))


def _init_params(emb_meta: dict) -> dict:
    """The constructor arguments among a front end's recorded parameters."""
    import inspect

    from earmark.embeddings.registry import EMBEDDERS

    if emb_meta["name"] not in EMBEDDERS:  # a fusion, or unknown: built from its name alone
        return {}
    probe = EMBEDDERS[emb_meta["name"]]()
    accepted = inspect.signature(type(probe).__init__).parameters
    params = {k: v for k, v in emb_meta.get("params", {}).items() if k in accepted}
    if "hop_s" in accepted and isinstance(emb_meta.get("hop_s"), (int, float)) and "hop_s" not in params:
        params["hop_s"] = float(emb_meta["hop_s"])  # front ends that record their hop in units of their own (frames, blocks)
    return params
