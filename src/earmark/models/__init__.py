"""Classifier heads on window embeddings, and window-to-clip aggregation."""

from earmark.models.aggregation import AGGREGATIONS, aggregate
from earmark.models.heads import CLASSIFIERS, EmbeddingClassifier, make_head

__all__ = ["AGGREGATIONS", "CLASSIFIERS", "EmbeddingClassifier", "aggregate", "make_head"]
