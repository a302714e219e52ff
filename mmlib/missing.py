"""Missing-modality protocols, each with its paper's exact semantics.

A protocol decides, for every sample of a split, which modalities it has (``present``, N x M bool) and, for
intra-modal missingness, which frames it keeps (``keep``: name -> N x T bool for a sequence; a vector of d
features is read as d one-number frames). Protocols only remove information: what a split already lacks stays
missing. Every protocol is seeded and deterministic: masks come from ``numpy.random.default_rng`` seeded with the
seed and the protocol's label, so the same seed gives the same masks on every machine. Counts are exact:
"a share r of N samples" means ``round(r * N)`` samples, so realised rates are within one sample of the target.

| protocol | paper | semantics |
|---|---|---|
| :class:`Subsets` | all five | at test, every non-empty modality subset, one condition each |
| :class:`FrameMasking` | DREAM (Fig. 3) | each sample loses ``round(ratio * L)`` of its L real frames, per modality |
| :class:`Heterogeneous` | DREAM (App. A.4) | of N samples, 2η/5 lose modalities, 2η/5 lose frames, η/5 both |
| :class:`SingleAbsence` | CMPT (Tab. 1, 6), MGR (κ) | a share of samples misses exactly one modality, split evenly or as given |
| :class:`ImbalancedRates` | MCE (Tab. 3-5) | modality m is missing in ``round(r_m N)`` samples; no sample loses all |
| :class:`ModalityDropout` | MMP (III-A), dropout baseline | training-time masking: each modality dropped w.p. p, at least one kept |
"""
from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from .data.core import DatasetSpec, MultimodalDataset
from .shapley import subsets as subset_table

__all__ = ["Missingness", "Subsets", "FrameMasking", "Heterogeneous", "SingleAbsence", "ImbalancedRates",
           "ModalityDropout", "parse_protocol", "subset_conditions", "apply_protocol"]


@dataclass
class Missingness:
    """What each sample keeps: ``present`` (N x M bool) and intra-modal ``keep`` masks (name -> N x T bool)."""

    present: torch.Tensor
    keep: dict[str, torch.Tensor] = field(default_factory=dict)

    def apply(self, dataset: MultimodalDataset) -> MultimodalDataset:
        return dataset.with_missing(self.present, self.keep)


def _rng(seed: int, label: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(label.encode())])


def _count(rate: float, n: int) -> int:
    return int(round(rate * n))


def _check_rate(name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {rate}")


def subset_conditions(spec: DatasetSpec) -> list[tuple[str, tuple[bool, ...]]]:
    """Every non-empty subset as (label, membership), smallest first, then in modality order
    ({l}, {a}, {v}, {l,a}, {l,v}, {a,v}, {l,a,v}, as the papers' tables list them)."""
    rows = subset_table(spec.num_modalities)[1:].tolist()
    rows.sort(key=lambda row: (sum(row), [not keep for keep in row]))
    return [("+".join(n for n, keep in zip(spec.modality_names, row) if keep), tuple(row)) for row in rows]


class Protocol(ABC):
    """A family of test conditions; ``conditions(spec)`` names them and ``mask`` draws one."""

    label: str

    def conditions(self, spec: DatasetSpec) -> list[str]:
        return [self.label]

    @abstractmethod
    def mask(self, dataset: MultimodalDataset, condition: str | None = None, seed: int = 0) -> Missingness:
        """The missingness of every sample of ``dataset`` under ``condition``."""

    def apply(self, dataset: MultimodalDataset, condition: str | None = None, seed: int = 0) -> MultimodalDataset:
        return self.mask(dataset, condition, seed).apply(dataset)


@dataclass
class Subsets(Protocol):
    """Inter-modal missingness at test time: every sample keeps exactly the modalities of one subset."""

    label: str = "subsets"

    def conditions(self, spec: DatasetSpec) -> list[str]:
        return [name for name, _ in subset_conditions(spec)]

    def mask(self, dataset, condition=None, seed=0):
        members = dict(subset_conditions(dataset.spec))
        if condition not in members:
            raise ValueError(f"unknown subset {condition!r}; expected one of {', '.join(members)}")
        present = torch.tensor(members[condition]).expand(len(dataset), -1)
        return Missingness(present.clone() & dataset.present)


def _frame_keep(lengths: np.ndarray, width: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Keep mask (N x width): each row drops exactly round(ratio * length) of its first ``length`` positions."""
    n = len(lengths)
    scores = rng.random((n, width))
    scores[np.arange(width)[None, :] >= lengths[:, None]] = np.inf  # padding is never chosen
    rank = np.argsort(np.argsort(scores, axis=1), axis=1)
    dropped = np.round(ratio * lengths).astype(int)
    return ~(rank < dropped[:, None])


def _maskable(spec: DatasetSpec, modalities: Sequence[str] | None) -> list[str]:
    names = list(modalities) if modalities is not None else [m.name for m in spec.modalities if m.kind != "image"]
    for name in names:
        if spec.modality(name).kind == "image":
            raise ValueError(f"frame masking needs a sequence or vector modality; {name!r} is an image")
    return names


def _frame_masks(dataset: MultimodalDataset, rows: np.ndarray, ratio: float, modalities: Sequence[str] | None,
                 rng: np.random.Generator) -> dict[str, torch.Tensor]:
    keep = {}
    for name in _maskable(dataset.spec, modalities):
        modality = dataset.spec.modality(name)
        width = modality.shape[0] if modality.kind == "sequence" else modality.feature_dim
        if modality.kind == "sequence":
            lengths = dataset.frame_mask[name].sum(1).numpy()
        else:
            lengths = np.full(len(dataset), width)
        mask = np.ones((len(dataset), width), dtype=bool)
        mask[rows] = _frame_keep(lengths[rows], width, ratio, rng)
        keep[name] = torch.from_numpy(mask)
    return keep


@dataclass
class FrameMasking(Protocol):
    """Intra-modal missingness (DREAM, Fig. 3): every sample loses ``round(ratio * L)`` of the L real frames of each
    sequence modality, chosen uniformly. A vector modality is read as d one-number frames (our choice, for features
    with no time axis such as utterance-level MOSI); images are left whole. Applied at train and test alike."""

    ratio: float
    modalities: tuple[str, ...] | None = None

    def __post_init__(self):
        _check_rate("frame-masking ratio", self.ratio)

    @property
    def label(self) -> str:
        return f"frames={self.ratio:g}"

    def mask(self, dataset, condition=None, seed=0):
        rng = _rng(seed, self.label)
        keep = _frame_masks(dataset, np.arange(len(dataset)), self.ratio, self.modalities, rng)
        return Missingness(dataset.present.clone(), keep)


def _drop_random_modalities(present: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> None:
    """Each row in ``rows`` loses a uniformly drawn non-empty proper subset of its present modalities."""
    for row in rows:
        have = np.flatnonzero(present[row])
        if len(have) < 2:
            continue  # a sample with one modality cannot lose one and still be a sample
        while True:
            lose = rng.random(len(have)) < 0.5
            if lose.any() and not lose.all():
                break
        present[row, have[lose]] = False


@dataclass
class Heterogeneous(Protocol):
    """DREAM's heterogeneous missingness (appendix A.4): ``round(eta N)`` samples are incomplete; of those a fifth
    suffer both kinds, and the rest are split evenly between inter-modal (a random non-empty proper subset of
    modalities removed) and intra-modal (frames masked at ``frame_ratio``). The paper gives no frame ratio for
    this setting: we use 0.5, the middle of its Fig. 3 range."""

    eta: float
    frame_ratio: float = 0.5

    def __post_init__(self):
        _check_rate("eta", self.eta)
        _check_rate("frame_ratio", self.frame_ratio)

    @property
    def label(self) -> str:
        return f"heterogeneous={self.eta:g}"

    def group_sizes(self, n: int) -> dict[str, int]:
        incomplete = _count(self.eta, n)
        both = _count(1 / 5, incomplete)
        inter = (incomplete - both + 1) // 2
        return {"inter": inter, "intra": incomplete - both - inter, "both": both, "complete": n - incomplete}

    def mask(self, dataset, condition=None, seed=0):
        rng = _rng(seed, self.label)
        sizes = self.group_sizes(len(dataset))
        order = rng.permutation(len(dataset))
        inter_rows = order[: sizes["inter"]]
        intra_rows = order[sizes["inter"] : sizes["inter"] + sizes["intra"]]
        both_rows = order[sizes["inter"] + sizes["intra"] : sizes["inter"] + sizes["intra"] + sizes["both"]]
        present = dataset.present.numpy().copy()
        _drop_random_modalities(present, np.concatenate([inter_rows, both_rows]), rng)
        keep = _frame_masks(dataset, np.concatenate([intra_rows, both_rows]), self.frame_ratio, None, rng)
        return Missingness(torch.from_numpy(present), keep)


def _spread(total: int, shares: Sequence[float]) -> np.ndarray:
    """Integer counts proportional to ``shares`` that add up to ``total`` (largest remainder)."""
    shares = np.asarray(shares, dtype=float)
    exact = total * shares / shares.sum() if shares.sum() > 0 else np.zeros_like(shares)
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


@dataclass
class SingleAbsence(Protocol):
    """A share of the samples misses exactly one modality; ``shares`` maps a modality to the share of samples
    that miss it (all other samples are complete).

    - CMPT (Tables 1 and 6): missing-image at η is ``{"image": η}``; missing-both at η is
      ``{"image": η/2, "text": η/2}``; "image 30% / text 100%" availability is ``availability({"image": .3})``.
    - MGR: prevalence κ over the modalities allowed to be absent is ``prevalence(κ, modalities)``.
    """

    shares: Mapping[str, float]

    def __post_init__(self):
        for name, share in self.shares.items():
            _check_rate(f"share of samples missing {name!r}", share)
        _check_rate("total share of incomplete samples", sum(self.shares.values()))

    @classmethod
    def availability(cls, available: Mapping[str, float]) -> "SingleAbsence":
        """From per-modality availability (CMPT's "% availability" columns): modality m is missing in 1 - a_m."""
        return cls({name: round(1.0 - share, 10) for name, share in available.items() if share < 1.0})

    @classmethod
    def prevalence(cls, kappa: float, modalities: Sequence[str]) -> "SingleAbsence":
        """MGR's prevalence κ: a share κ of samples misses one modality, drawn evenly from ``modalities``."""
        return cls({name: kappa / len(modalities) for name in modalities})

    @property
    def label(self) -> str:
        return "absent:" + ",".join(f"{name}={share:g}" for name, share in self.shares.items())

    def counts(self, n: int) -> dict[str, int]:
        total = _count(sum(self.shares.values()), n)
        return dict(zip(self.shares, _spread(total, list(self.shares.values())).tolist()))

    def mask(self, dataset, condition=None, seed=0):
        rng = _rng(seed, self.label)
        present = dataset.present.clone()
        order = torch.from_numpy(rng.permutation(len(dataset)))
        start = 0
        for name, count in self.counts(len(dataset)).items():
            present[order[start : start + count], dataset.spec.index(name)] = False
            start += count
        return Missingness(present)


@dataclass
class ImbalancedRates(Protocol):
    """MCE's imbalanced missing rates: modality m is missing in exactly ``round(r_m N)`` samples, and no sample
    loses every modality. Modalities are assigned from the most to the least missing; each picks its samples
    uniformly among those that would still keep another modality."""

    rates: Mapping[str, float]

    def __post_init__(self):
        for name, rate in self.rates.items():
            _check_rate(f"missing rate of {name!r}", rate)

    @property
    def label(self) -> str:
        return "rates:" + ",".join(f"{name}={rate:g}" for name, rate in self.rates.items())

    def mask(self, dataset, condition=None, seed=0):
        rng = _rng(seed, self.label)
        present = dataset.present.numpy().copy()
        for name in sorted(self.rates, key=lambda k: -self.rates[k]):
            column = dataset.spec.index(name)
            wanted = _count(self.rates[name], len(dataset)) - int((~present[:, column]).sum())
            eligible = np.flatnonzero(present[:, column] & (present.sum(1) > 1))
            if wanted > len(eligible):
                raise ValueError(f"missing rates {dict(self.rates)} cannot all hold on {len(dataset)} samples "
                                 f"without a sample losing every modality")
            if wanted > 0:
                present[rng.choice(eligible, size=wanted, replace=False), column] = False
        return Missingness(torch.from_numpy(present))


@dataclass
class ModalityDropout:
    """Training-time modality masking (MMP section III-A; the ``dropout`` baseline): each present modality of each
    sample is dropped with probability ``p``, independently, and a draw that would drop every present modality
    is redrawn, so at least one is kept. The realised drop rate is therefore ``expected_drop_rate(p, M)``."""

    p: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.p < 1.0:
            raise ValueError(f"dropout probability p must be in [0, 1), got {self.p}")

    @staticmethod
    def expected_drop_rate(p: float, num_modalities: int) -> float:
        """P(a modality is dropped | at least one kept) = (p - p^M) / (1 - p^M) for complete samples."""
        return (p - p ** num_modalities) / (1 - p ** num_modalities)

    def sample(self, present: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A new ``present`` (B x M) for one training step."""
        def draw(rows: torch.Tensor) -> torch.Tensor:
            return present[rows] & (torch.rand(present[rows].shape, generator=generator) >= self.p)

        everything = torch.ones(present.shape[0], dtype=torch.bool)
        kept = draw(everything)
        redraw = (kept.sum(1) == 0) & present.any(1)
        while redraw.any():
            kept[redraw] = draw(redraw)
            redraw = (kept.sum(1) == 0) & present.any(1)
        return kept


def apply_protocol(dataset: MultimodalDataset, protocol: Protocol | None, seed: int = 0) -> MultimodalDataset:
    """The dataset under a single-condition protocol (used for training splits); ``None`` leaves it complete."""
    return dataset if protocol is None else protocol.apply(dataset, None, seed)


def parse_protocol(text: str, spec: DatasetSpec) -> Protocol:
    """A protocol from its command-line form:

    ``subsets`` | ``frames:0.3`` | ``heterogeneous:0.5`` | ``absent:image=0.7`` (CMPT missing-one) |
    ``absent:image=0.35,text=0.35`` (CMPT missing-both) | ``kappa:0.7`` or ``kappa:0.7:video,audio`` (MGR) |
    ``rates:text=0.2,audio=0.5,video=0.8`` (MCE)."""
    kind, _, argument = text.partition(":")
    try:
        if kind == "subsets" and not argument:
            return Subsets()
        if kind == "frames":
            return FrameMasking(float(argument))
        if kind == "heterogeneous":
            return Heterogeneous(float(argument))
        if kind == "kappa":
            kappa, _, names = argument.partition(":")
            modalities = names.split(",") if names else list(spec.modality_names)
            for name in modalities:
                spec.index(name)
            return SingleAbsence.prevalence(float(kappa), modalities)
        if kind in ("absent", "rates"):
            pairs = dict(item.split("=") for item in argument.split(","))
            values = {name: float(value) for name, value in pairs.items()}
            for name in values:
                spec.index(name)
            return SingleAbsence(values) if kind == "absent" else ImbalancedRates(values)
    except KeyError as error:
        raise ValueError(f"protocol {text!r}: {error.args[0]}") from None
    except ValueError as error:
        raise ValueError(f"protocol {text!r}: {error}") from None
    raise ValueError(f"unknown protocol {text!r}; expected subsets, frames:R, heterogeneous:ETA, absent:M=R[,..], "
                     f"kappa:K[:M,..] or rates:M=R,..")
