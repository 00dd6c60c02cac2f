"""A trained earmark model: an embedder plus a fitted clip classifier."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.preprocessing import LabelEncoder

from earmark import __version__
from earmark.embeddings import Embedder, EmbeddingCache, get_embedder
from earmark.embeddings.base import Embedding
from earmark.errors import ModelFileError, ParameterError
from earmark.models.heads import EmbeddingClassifier
from earmark.persistence import read_model_file, write_model_file

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """The classes of one file, most probable first."""

    path: Path
    labels: list[str]
    scores: list[float]
    n_windows: int

    @property
    def label(self) -> str:
        return self.labels[0]

    @property
    def score(self) -> float:
        return self.scores[0]


@dataclass
class Model:
    """An embedder, a fitted :class:`EmbeddingClassifier` and how they were made.

    Attributes
    ----------
    embedder : Embedder
    classifier : EmbeddingClassifier
    gate_db : float or None
        Windows quieter than this (dBFS) are ignored, unless all are.
    info : dict
        Training data summary, evaluation figures, provenance.
    """

    embedder: Embedder
    classifier: EmbeddingClassifier
    gate_db: float | None = -60.0
    info: dict = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.classifier.classes_]

    def predict_proba_embeddings(self, embeddings: list[Embedding]) -> np.ndarray:
        """Clip probabilities from precomputed embeddings, ``(n, n_classes)``."""
        return self.classifier.predict_proba([e.gated(self.gate_db) for e in embeddings])

    def predict_proba(self, paths, *, cache: EmbeddingCache | None = None) -> np.ndarray:
        """Clip probabilities for audio files, shape ``(n_files, n_classes)``, columns in ``classes`` order.

        Raises
        ------
        AudioLoadError
            For the first file that cannot be read.
        """
        cache = cache or EmbeddingCache(enabled=False)
        return self.predict_proba_embeddings([cache.get(self.embedder, p) for p in paths])

    def predict(self, paths, *, top_k: int = 1, cache: EmbeddingCache | None = None) -> list[Prediction]:
        """Top-``top_k`` labels and scores for each file."""
        cache = cache or EmbeddingCache(enabled=False)
        out = []
        for p in paths:
            emb = cache.get(self.embedder, p)
            proba = self.predict_proba_embeddings([emb])[0]
            order = np.argsort(-proba, kind="stable")[: max(1, top_k)]
            out.append(Prediction(Path(p), [self.classes[i] for i in order], [float(proba[i]) for i in order], len(emb.vectors)))
        return out

    def to_dict(self) -> dict:
        """Everything but the fitted arrays, JSON-serialisable."""
        c = self.classifier
        return {
            "earmark_version": __version__,
            "classes": self.classes,
            "embedder": {**self.embedder.identity(), "licence": self.embedder.licence, "commercial_use": self.embedder.commercial_use},
            "classifier": {"name": c.classifier, "aggregation": c.aggregation, "params": c.classifier_params or {}, "random_state": c.random_state},
            "n_features": int(c.n_features_in_),
            "gate_db": self.gate_db,
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model to one file atomically (see :mod:`earmark.persistence`)."""
        return write_model_file(path, self.to_dict(), self.classifier.head_)

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Load a model file written by :meth:`save`; runs no code from the file."""
        meta, head = read_model_file(path)
        try:
            emb_meta = meta["embedder"]
            try:
                embedder = get_embedder(emb_meta["name"], **_init_params(emb_meta))
            except ParameterError as exc:
                raise ModelFileError(f"{path}: its embedder cannot be built here ({exc}); retrain the model.") from None
            recorded = {k: emb_meta[k] for k in ("name", "version", "params")}
            if embedder.identity() != recorded:
                raise ModelFileError(
                    f"{path}: trained with embedder {emb_meta['name']} version {emb_meta['version']} {emb_meta['params']}, "
                    f"this earmark builds version {embedder.version} {embedder.params()}; retrain the model."
                )
            cmeta = meta["classifier"]
            clf = EmbeddingClassifier(cmeta["name"], aggregation=cmeta["aggregation"], classifier_params=cmeta["params"] or None, random_state=cmeta["random_state"])
            clf.head_ = head
            clf._encoder = LabelEncoder().fit(meta["classes"])
            clf.classes_ = np.asarray(meta["classes"])
            clf.n_features_in_ = int(meta["n_features"])
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"{path}: model description is incomplete (missing {exc}); retrain the model.") from None
        if embedder.dims != clf.n_features_in_:
            raise ModelFileError(f"{path}: classifier expects {clf.n_features_in_} dims but embedder {embedder.name} gives {embedder.dims}; retrain.")
        return cls(embedder, clf, meta.get("gate_db"), meta.get("info", {}))


def _init_params(emb_meta: dict) -> dict:
    """The constructor arguments among an embedder's recorded parameters."""
    import inspect

    from earmark.embeddings.registry import EMBEDDERS

    if emb_meta["name"] not in EMBEDDERS:  # a fusion, or unknown: built from its name alone
        return {}
    probe = EMBEDDERS[emb_meta["name"]]()
    accepted = inspect.signature(type(probe).__init__).parameters
    return {k: v for k, v in emb_meta.get("params", {}).items() if k in accepted}
