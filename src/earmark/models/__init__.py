"""Classifier heads on window embeddings, and window-to-clip aggregation."""

from earmark.models.aggregation import AGGREGATIONS, aggregate, aggregate_clips
from earmark.models.heads import CLASSIFIERS, EmbeddingClassifier, make_head

__all__ = ["AGGREGATIONS", "CLASSIFIERS", "EmbeddingClassifier", "aggregate",
    "aggregate_clips", "make_head"]
