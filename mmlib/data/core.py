"""The data contract: what a multimodal dataset, a sample and a batch are.

A sample has up to M modalities in the fixed order ``spec.modalities``. Kinds:

- ``vector``: ``(d,)``
- ``sequence``: ``(T, d)``, zero-padded to the longest sequence; ``frame_mask`` marks real frames
- ``image``: ``(C, H, W)``

Absent modalities are zeros in ``x`` and ``False`` in ``present``. Every check that the loaders and the
``npz`` format need lives here (:func:`check_arrays`) so that bad input always fails the same way: one
:class:`DataError` naming the file and the fault.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch

KINDS = {"vector": 1, "sequence": 2, "image": 3}  # kind -> rank of one sample


class DataError(ValueError):
    """Bad input data: the message names the file (or dataset) and what is wrong with it."""


@dataclass(frozen=True)
class ModalitySpec:
    name: str
    kind: str  # "vector" | "sequence" | "image"
    shape: tuple[int, ...]  # shape of one sample (sequences: padded length T, feature size d)

    @property
    def feature_dim(self) -> int:
        """Size of the last axis: the per-frame feature size of a vector or a sequence; channels x H x W of an image."""
        return int(np.prod(self.shape)) if self.kind == "image" else self.shape[-1]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    modalities: tuple[ModalitySpec, ...]
    num_classes: int
    task: str = "classification"
    class_names: tuple[str, ...] = ()
    stands_in_for: str = ""
    split_rule: str = ""

    @property
    def modality_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modalities)

    @property
    def num_modalities(self) -> int:
        return len(self.modalities)

    def index(self, name: str) -> int:
        try:
            return self.modality_names.index(name)
        except ValueError:
            raise KeyError(f"dataset {self.name!r} has no modality {name!r}; it has {', '.join(self.modality_names)}") from None

    def modality(self, name: str) -> ModalitySpec:
        return self.modalities[self.index(name)]


@dataclass
class Batch:
    """A mini-batch: ``x`` (name -> tensor, zeros where absent), ``present`` (B x M bool), ``y`` (B),
    ``frame_mask`` (name -> B x T bool, for sequence modalities: True on real, unmasked frames)."""

    x: dict[str, torch.Tensor]
    present: torch.Tensor
    y: torch.Tensor
    frame_mask: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.y.shape[0]

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(
            {k: v.to(device) for k, v in self.x.items()},
            self.present.to(device),
            self.y.to(device),
            {k: v.to(device) for k, v in self.frame_mask.items()},
        )

    def with_present(self, present: torch.Tensor) -> "Batch":
        """The same batch restricted to ``present`` (B x M): modalities that ``present`` drops become zeros.
        A modality can only be removed, never restored."""
        present = present.to(self.present.device) & self.present
        x = {}
        for i, (name, value) in enumerate(self.x.items()):
            keep = present[:, i].reshape(-1, *([1] * (value.dim() - 1)))
            x[name] = value * keep.to(value.dtype)
        frame_mask = {}
        for name, mask in self.frame_mask.items():
            i = list(self.x).index(name)
            frame_mask[name] = mask & present[:, i : i + 1]
        return Batch(x, present, self.y, frame_mask)


class MultimodalDataset:
    """All samples of one split, held as tensors in memory (the datasets here are small).

    ``x[name]`` is N x (sample shape), ``y`` is N (int64 class labels), ``present`` N x M bool and
    ``frame_mask[name]`` N x T bool for each sequence modality.
    """

    def __init__(self, spec: DatasetSpec, x: Mapping[str, torch.Tensor], y: torch.Tensor,
                 present: torch.Tensor | None = None, frame_mask: Mapping[str, torch.Tensor] | None = None,
                 groups: np.ndarray | None = None):
        self.spec = spec
        self.x = {m.name: x[m.name] for m in spec.modalities}
        self.y = y
        n = y.shape[0]
        self.present = present if present is not None else torch.ones(n, spec.num_modalities, dtype=torch.bool)
        self.frame_mask = dict(frame_mask or {})
        for m in spec.modalities:
            if m.kind == "sequence" and m.name not in self.frame_mask:
                self.frame_mask[m.name] = torch.ones(n, m.shape[0], dtype=torch.bool)
        self.groups = groups  # e.g. speaker or video id per sample, used by group-aware splits

    def __len__(self) -> int:
        return self.y.shape[0]

    def subset(self, index: Sequence[int] | np.ndarray | torch.Tensor) -> "MultimodalDataset":
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        return MultimodalDataset(
            self.spec, {k: v[index] for k, v in self.x.items()}, self.y[index], self.present[index],
            {k: v[index] for k, v in self.frame_mask.items()},
            None if self.groups is None else self.groups[index.numpy()],
        )

    def batch(self, index: torch.Tensor | slice | None = None) -> Batch:
        index = slice(None) if index is None else index
        return Batch({k: v[index] for k, v in self.x.items()}, self.present[index], self.y[index],
                     {k: v[index] for k, v in self.frame_mask.items()})

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False) -> Iterator[Batch]:
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - n % batch_size if drop_last and n > batch_size else n
        for start in range(0, stop, batch_size):
            yield self.batch(order[start : start + batch_size])

    def with_missing(self, present: torch.Tensor, keep: Mapping[str, torch.Tensor] | None = None
                     ) -> "MultimodalDataset":
        """A copy where modalities that ``present`` marks absent are zeroed, and where ``keep`` (intra-modal
        missingness: name -> N x T frames of a sequence, or N x d entries of a vector; False = dropped) zeroes
        frames or entries. Only removes information: ``present`` is and-ed with the current one."""
        batch = self.batch().with_present(present)
        x, frame_mask = dict(batch.x), dict(batch.frame_mask)
        for name, kept in (keep or {}).items():
            value = x[name]
            if name in frame_mask:
                kept = kept & frame_mask[name]
                frame_mask[name] = kept
            x[name] = value * kept.reshape(*kept.shape, *([1] * (value.dim() - kept.dim()))).to(value.dtype)
        return MultimodalDataset(self.spec, x, self.y, batch.present, frame_mask, self.groups)


@dataclass
class Splits:
    """Train, validation and test splits of one dataset, with the spec they share."""

    spec: DatasetSpec
    train: MultimodalDataset
    val: MultimodalDataset
    test: MultimodalDataset

    def __iter__(self):
        return iter((self.train, self.val, self.test))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


# ----------------------------------------------------------------------------------------------- checks

def check_arrays(source: str, arrays: Mapping[str, np.ndarray], y: np.ndarray, num_classes: int | None = None,
                 present: np.ndarray | None = None) -> None:
    """Raise one :class:`DataError` naming ``source`` for the first fault found in the arrays."""
    if not arrays:
        raise DataError(f"{source}: no modality arrays")
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{source}: labels 'y' must be a 1-d array of class indices, got shape {y.shape}")
    n = y.shape[0]
    if n == 0:
        raise DataError(f"{source}: no samples")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise DataError(f"{source}: labels 'y' must be integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or (num_classes is not None and y.max() >= num_classes):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        limit = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
        raise DataError(f"{source}: label {bad} out of range (expected {limit})")
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.ndim - 1 not in KINDS.values():
            raise DataError(f"{source}: modality {name!r} has shape {value.shape}; expected N x d (vector), "
                            f"N x T x d (sequence) or N x C x H x W (image)")
        if value.shape[0] != n:
            raise DataError(f"{source}: modality {name!r} has {value.shape[0]} samples but 'y' has {n}")
        if not np.issubdtype(value.dtype, np.number):
            raise DataError(f"{source}: modality {name!r} is not numeric (dtype {value.dtype})")
        if not np.all(np.isfinite(value)):
            where = np.argwhere(~np.isfinite(value.reshape(n, -1)))[0, 0]
            raise DataError(f"{source}: modality {name!r} has NaN or inf values (first at sample {where})")
    if present is not None:
        present = np.asarray(present)
        if present.shape != (n, len(arrays)):
            raise DataError(f"{source}: 'present' has shape {present.shape}, expected ({n}, {len(arrays)})")
        empty = np.flatnonzero(~present.astype(bool).any(axis=1))
        if empty.size:
            raise DataError(f"{source}: sample {empty[0]} has no modality present ({empty.size} such samples)")


def spec_for_arrays(name: str, arrays: Mapping[str, np.ndarray], num_classes: int, **details) -> DatasetSpec:
    """A spec whose modality kinds follow the rank of each array (N x d vector, N x T x d sequence, N x C x H x W image)."""
    kind_of_rank = {rank: kind for kind, rank in KINDS.items()}
    modalities = tuple(ModalitySpec(k, kind_of_rank[np.asarray(v).ndim - 1], tuple(np.asarray(v).shape[1:]))
                       for k, v in arrays.items())
    return DatasetSpec(name, modalities, num_classes, **details)


def make_dataset(spec: DatasetSpec, arrays: Mapping[str, np.ndarray], y: np.ndarray,
                 present: np.ndarray | None = None, frame_mask: Mapping[str, np.ndarray] | None = None,
                 groups: np.ndarray | None = None) -> MultimodalDataset:
    """Tensors from numpy arrays. float32 arrays are shared, not copied: copy first if you will modify them."""
    x = {k: torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in arrays.items()}
    return MultimodalDataset(
        spec, x, torch.as_tensor(np.asarray(y), dtype=torch.long),
        None if present is None else torch.as_tensor(np.asarray(present, dtype=bool)),
        None if frame_mask is None else {k: torch.as_tensor(np.asarray(v, dtype=bool)) for k, v in frame_mask.items()},
        groups,
    )


# ----------------------------------------------------------------------------------------------- splits

def stratified_split(y: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split sample indices into parts with the given fractions, class by class (seeded, deterministic).

    Each class is shuffled with ``numpy.random.default_rng(seed)`` and cut at the rounded cumulative fractions,
    so every part keeps the class balance to within one sample per class."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    cumulative = np.cumsum(fractions) / np.sum(fractions)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        cuts = np.round(cumulative * len(members)).astype(int)
        for i, part in enumerate(np.split(members, cuts[:-1])):
            parts[i].append(part)
    return [np.sort(np.concatenate(p)) for p in parts]


def group_split(groups: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split sample indices into parts by group (video, speaker): a group never spans two parts.
    Groups are shuffled (seeded) and assigned in turn until each part holds its share of groups."""
    groups = np.asarray(groups)
    unique = np.random.default_rng(seed).permutation(np.unique(groups))
    cuts = np.round(np.cumsum(fractions) / np.sum(fractions) * len(unique)).astype(int)
    return [np.sort(np.flatnonzero(np.isin(groups, part))) for part in np.split(unique, cuts[:-1])]


def standardize(splits: Splits) -> Splits:
    """Z-score vector and sequence modalities with statistics of the training split (present samples and real
    frames only), so that a zero stays "absent" on the same scale for every modality. Images are left as they are."""
    train = splits.train
    stats = {}
    for index, m in enumerate(splits.spec.modalities):
        if m.kind == "image":
            continue
        values = train.x[m.name][train.present[:, index]]
        if m.kind == "sequence":
            values = values[train.frame_mask[m.name][train.present[:, index]]]
        if values.shape[0] < 2:  # nothing to estimate from: leave the modality on its own scale
            stats[m.name] = (torch.zeros(values.shape[1:]), torch.ones(values.shape[1:]))
            continue
        stats[m.name] = (values.mean(0), values.std(0).clamp_min(1e-6))

    def apply(ds: MultimodalDataset) -> MultimodalDataset:
        x = dict(ds.x)
        for index, m in enumerate(ds.spec.modalities):
            if m.name not in stats:
                continue
            mean, std = stats[m.name]
            keep = ds.present[:, index].reshape(-1, *([1] * (x[m.name].dim() - 1)))
            if m.kind == "sequence":
                keep = keep & ds.frame_mask[m.name].unsqueeze(-1)
            x[m.name] = ((x[m.name] - mean) / std) * keep
        return MultimodalDataset(ds.spec, x, ds.y, ds.present, ds.frame_mask, ds.groups)

    return replace(splits, train=apply(splits.train), val=apply(splits.val), test=apply(splits.test))
