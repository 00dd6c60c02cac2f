"""Datasets: labelled clips from a ``metadata.csv`` or from class sub-folders."""

from earmark.data.dataset import Clip, Dataset, load_dataset

__all__ = ["Clip", "Dataset", "load_dataset"]
