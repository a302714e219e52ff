"""Datasets: the data contract (:mod:`mmlib.data.core`) and the loaders of the real datasets.

>>> from mmlib.data import load_dataset, describe_datasets
>>> splits = load_dataset("mosi")          # Splits(spec, train, val, test), standardized
>>> describe_datasets()                    # one row per dataset
"""
from .core import (KINDS, Batch, DataError, DatasetSpec, ModalitySpec, MultimodalDataset, Splits, check_arrays,
                   group_split, make_dataset, spec_for_arrays, standardize, stratified_split)
from .registry import data_root, dataset_names, describe_datasets, load_dataset

__all__ = [
    "KINDS", "Batch", "DataError", "DatasetSpec", "ModalitySpec", "MultimodalDataset", "Splits", "check_arrays",
    "group_split", "make_dataset", "spec_for_arrays", "standardize", "stratified_split",
    "data_root", "dataset_names", "describe_datasets", "load_dataset",
]
