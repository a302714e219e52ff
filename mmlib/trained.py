"""What is computed once and kept on disk: sub-models that a method trains before its own training (pre-trained
encoders and backbones, frozen reference models, :func:`train_once`), and the values a notebook computes while
training a model its own way (per-step logs, probes, timings: :func:`compute_once`). A trained run's own model is
kept with its record instead (:func:`mmlib.experiment.trained`).

Runs that differ only in the method's own options (ablations, loss-weight sweeps, variants) share these sub-models:
:func:`train_once` trains one the first time and reads it back afterwards, from any notebook or process. The key
covers the module's initial weights, everything the caller names as determining the training (data, recipe,
seed) and the code version, so stale weights are never reused. The training runs under
``torch.random.fork_rng``: the caller's random stream comes out the same whether the weights were trained or read,
so a run's numbers never depend on which runs came before it.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .data.core import MultimodalDataset
from .store import cache_dir, code_version, exclusive

__all__ = ["fingerprint", "train_once", "compute_once"]


def _update(digest, part) -> None:
    if isinstance(part, (torch.Tensor, np.ndarray)):  # by value: repr would cut a large array short
        part = part.detach().cpu().contiguous().numpy() if isinstance(part, torch.Tensor) else np.ascontiguousarray(part)
        digest.update(f"{tuple(part.shape)}{part.dtype}".encode())
        digest.update(part.tobytes())
    elif isinstance(part, MultimodalDataset):
        _update(digest, (part.x, part.present, part.y, part.frame_mask))
    elif isinstance(part, dict):
        for name, value in part.items():
            digest.update(str(name).encode())
            _update(digest, value)
    elif isinstance(part, (list, tuple)):
        digest.update(f"[{len(part)}]".encode())
        for value in part:
            _update(digest, value)
    else:
        digest.update(repr(part).encode())


def fingerprint(*parts) -> str:
    """A hash of ``parts``: tensors and arrays by their bytes, datasets by their arrays, dicts and sequences item by item,
    anything else by its ``repr``."""
    digest = hashlib.sha256()
    for part in parts:
        _update(digest, part)
    return digest.hexdigest()[:24]


def train_once(module: nn.Module, name: str, determined_by: tuple, train: Callable[[], None]) -> bool:
    """Bring ``module`` to the weights ``train()`` gives it, training only if no earlier call with the same initial
    weights, ``determined_by`` and code version has: the weights are kept under ``<results cache>/../models``.
    Returns whether it trained."""
    key = fingerprint(code_version(), module.state_dict(), determined_by)
    path = cache_dir().parent / "models" / f"{name}-{key}.pt"
    with exclusive(path.stem):  # another process training the same one: wait for it, then read it
        if path.exists():
            module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return False
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            train()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.{id(module)}.tmp")
        torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, partial)
        partial.replace(path)
        return True


def compute_once(name: str, determined_by: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``'s value, computed only if no earlier call with the same ``name``, ``determined_by`` and code
    version has: kept (pickled) under ``<results cache>/../computed``. For what a notebook computes while it trains
    a model its own way (per-step logs, probes after every epoch, timings), so that a rebuild reads it instead of
    training again. ``determined_by`` must name everything the value depends on beyond the library: the
    experiments' keys, the notebook's own settings, the source of a chapter's code (:func:`fingerprint` hashes it).
    Runs under ``torch.random.fork_rng``, as :func:`train_once` does."""
    key = fingerprint(code_version(), name, determined_by)
    path = cache_dir().parent / "computed" / f"{name}-{key}.pkl"
    with exclusive(path.stem):
        if path.exists():
            try:
                return pickle.loads(path.read_bytes())
            except Exception as error:  # cut short: compute again
                import warnings

                warnings.warn(f"damaged kept value {path} ({error}): computed again", stacklevel=2)
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            value = compute()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(value))
        partial.replace(path)
        return value
