"""Data disjoint from every split of a dataset, to pre-train an encoder on: what stands in, on our small sets, for the
large external corpora that the CMPT paper's frozen encoders (CLIP, BERT, AST) were pre-trained on.

AV-MNIST (:mod:`mmlib.data.avmnist`) pairs each of FSDD's 3,000 recordings with one MNIST t10k image; the t10k
images it pairs with no recording, about 7,000, are its **spare digits**: the same kind of input as its image
modality, and in none of its splits. Every FSDD recording is paired, so no audio is spare: an encoder of AV-MNIST's
audio can only be pre-trained on its training split.

A source is named by a string (so that it can sit in a method's options and in a results-cache key):
:data:`SOURCES` maps it to the dataset it is disjoint from and, per modality, a function of ``data_dir`` that returns
the inputs (N x sample shape, float32, scaled as the dataset's loader scales them) and their class labels.
"""
from __future__ import annotations

import numpy as np
import torch

from . import avmnist
from .core import DataError
from .registry import _DATASETS, _folder

__all__ = ["SOURCES", "spare_avmnist_images", "pretraining_data"]


def spare_avmnist_images(data_dir=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST t10k images that AV-MNIST pairs with no recording (N x 1 x 28 x 28 in [0, 1], as
    :func:`mmlib.data.avmnist.load` scales its images) and their digits: disjoint from AV-MNIST's training, validation
    and test splits (and from ``avmnist_mce``'s, which draws from the same pairs)."""
    entry = _DATASETS["avmnist"]
    mnist_folder, fsdd_folder = (_folder("avmnist", folder, entry, data_dir) for folder in entry.folders)
    images, labels = avmnist.read_mnist(mnist_folder)
    used = avmnist._pairs(mnist_folder, fsdd_folder)["image_index"]
    spare = np.setdiff1d(np.arange(len(images)), used)
    if len(spare) == 0:
        raise DataError(f"{mnist_folder}: every MNIST t10k image is paired with a recording; no spare digits")
    x = torch.from_numpy(images[spare][:, None].astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels[spare])


#: source name -> (the dataset it is disjoint from, {modality name: function of data_dir -> (inputs, labels)})
SOURCES = {"avmnist-spare-digits": ("avmnist", {"image": spare_avmnist_images})}


def pretraining_data(source: str, modality: str, data_dir=None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The inputs and labels that ``source`` holds for ``modality``, or None when it holds none for it."""
    if source not in SOURCES:
        raise DataError(f"unknown pre-training source {source!r}; known: {', '.join(SOURCES)}")
    loader = SOURCES[source][1].get(modality)
    return None if loader is None else loader(data_dir)
