"""Honest evaluation: official folds or stratified K-fold, metrics, reports."""

from earmark.evaluation.cv import cross_validate

__all__ = ["cross_validate"]
