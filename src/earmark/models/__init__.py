"""Trainable clip models: the contract, the registry, the scikit-learn heads, aggregation, ensembles."""

from earmark.models.aggregation import AGGREGATIONS, aggregate, aggregate_clips
from earmark.models.base import ClipModel, Tensors, as_clips
from earmark.models.heads import CLASSIFIERS, EmbeddingClassifier, make_head
from earmark.models.registry import DEFAULT_MODEL, MODELS, ModelSpec, get_model, model_name, model_spec, register_model, unregister_model
from earmark.models import ensemble as _ensemble  # noqa: F401, E402 - registers "ensemble" (it builds members through the registry)

__all__ = ["AGGREGATIONS", "CLASSIFIERS", "DEFAULT_MODEL", "MODELS", "ClipModel", "EmbeddingClassifier", "ModelSpec", "Tensors",
           "aggregate", "aggregate_clips", "as_clips", "get_model", "make_head", "model_name", "model_spec", "register_model",
           "unregister_model"]
