"""Honest evaluation: official folds or stratified K-fold, few-shot learning curves, comparisons, reports."""

from earmark.evaluation.compare import compare
from earmark.evaluation.cv import cross_validate, splits
from earmark.evaluation.fewshot import learning_curve, nested_draws, summarise

__all__ = ["compare", "cross_validate", "learning_curve", "nested_draws", "splits", "summarise"]
