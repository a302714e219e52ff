"""Experiments: dataset x method x protocols x seeds, run (or read from the results cache) into one tidy table.

The table has a row per ``dataset, method, seed, protocol, condition, metric, value``. Results are cached per
seed under ``$MMLIB_CACHE/results`` (default ``<repo>/.cache/results``), keyed on the experiment's configuration
and a hash of the library's source code, so a rebuild does not retrain and a result from older code is never
reused.

Profiles shorten the method's own training recipe (``method.recipe``, the paper's):

| profile | epochs | training samples | evaluation samples |
|---|---|---|---|
| ``smoke`` | 2 | at most 256 | at most 256 |
| ``quick`` | at most 15 | all | all |
| ``paper`` | the paper's | all | all |
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import load_dataset
from .data.core import MultimodalDataset, Splits
from .evaluate import evaluate
from .methods import METHODS, make_method
from .missing import parse_protocol
from .train import fit, resolve_device

__all__ = ["PROFILES", "COLUMNS", "Experiment", "run", "run_all", "summarize", "build_method", "train_method",
           "cache_dir", "code_version"]

PACKAGE = Path(__file__).resolve().parent
COLUMNS = ["dataset", "method", "seed", "protocol", "condition", "metric", "value"]


@dataclass(frozen=True)
class Profile:
    max_epochs: int | None
    max_train: int | None = None
    max_eval: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)


PROFILES = {
    "smoke": Profile(max_epochs=2, max_train=256, max_eval=256, seeds=(0,)),
    "quick": Profile(max_epochs=15, seeds=(0, 1, 2)),
    "paper": Profile(max_epochs=None, seeds=(0, 1, 2, 3, 4)),
}


def profile_named(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]


@dataclass(frozen=True)
class Experiment:
    """What to run. ``train_protocol`` (a :func:`~mmlib.missing.parse_protocol` string) applies to the training
    and validation splits; each of ``test_protocols`` to the test split. Options are dicts of keyword arguments
    for the method's constructor and for :class:`~mmlib.train.TrainConfig`."""

    dataset: str
    method: str
    seeds: tuple[int, ...] | None = None  # None: the profile's seeds
    test_protocols: tuple[str, ...] = ("subsets",)
    train_protocol: str | None = None
    profile: str = "quick"
    method_options: dict = field(default_factory=dict)
    train_options: dict = field(default_factory=dict)
    device: str = "auto"
    data_dir: str | None = None
    mask_seed: int | None = None  # seed of the missing-modality masks; None: the training seed (MGR varies both)

    def seed_list(self) -> tuple[int, ...]:
        return tuple(self.seeds) if self.seeds is not None else profile_named(self.profile).seeds

    def key(self, seed: int) -> str:
        """The results-cache key: the configuration (method options equal to the constructor's defaults left
        out, so that two spellings of one model share an entry), the seed and the code version."""
        config = asdict(self)
        config.update(seeds=None, seed=seed, device=None, data_dir=None, code=code_version(),
                      method_options=_non_default_options(self.method, self.method_options))
        return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _non_default_options(method: str, options: dict) -> dict:
    if method not in METHODS:
        return options
    defaults = {name: parameter.default for name, parameter in inspect.signature(METHODS[method]).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    return {name: value for name, value in options.items() if not (name in defaults and defaults[name] == value)}


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of every source file of mmlib: any change to the code invalidates cached results."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    root = os.environ.get("MMLIB_CACHE")
    return (Path(root) if root else PACKAGE.parent / ".cache") / "results"


def _limit(dataset: MultimodalDataset, limit: int | None, seed: int) -> MultimodalDataset:
    if limit is None or len(dataset) <= limit:
        return dataset
    keep = np.sort(np.random.default_rng(seed).choice(len(dataset), size=limit, replace=False))
    return dataset.subset(keep)


def prepared_splits(experiment: Experiment, seed: int) -> Splits:
    """The dataset's splits at the experiment's profile, with the training protocol applied to train and val."""
    profile = profile_named(experiment.profile)
    splits = load_dataset(experiment.dataset, data_dir=experiment.data_dir)
    train, val, test = (_limit(s, profile.max_train if s is splits.train else profile.max_eval, 0) for s in splits)
    if experiment.train_protocol is not None:
        protocol = parse_protocol(experiment.train_protocol, splits.spec)
        mask_seed = _mask_seed(experiment, seed)
        train, val = protocol.apply(train, None, mask_seed), protocol.apply(val, None, mask_seed + 10_000)
    return Splits(splits.spec, train, val, test)


def _mask_seed(experiment: Experiment, seed: int) -> int:
    return seed if experiment.mask_seed is None else experiment.mask_seed


def build_method(experiment: Experiment, seed: int):
    """The experiment's untrained method for one seed, its splits and its training configuration, exactly as
    :func:`train_method` starts from them: returns (method, splits, config)."""
    profile = profile_named(experiment.profile)
    splits = prepared_splits(experiment, seed)
    torch.manual_seed(seed)
    method = make_method(experiment.method, splits.spec, **experiment.method_options)
    config = method.recipe.updated(seed=seed, device=experiment.device, **experiment.train_options)
    if profile.max_epochs is not None:
        config = config.updated(epochs=min(config.epochs, profile.max_epochs))
    return method, splits, config


def train_method(experiment: Experiment, seed: int, on_step=None, on_epoch=None):
    """Train the experiment's method for one seed: returns (method, splits, history). ``on_step`` and
    ``on_epoch`` are passed to :func:`mmlib.train.fit`."""
    method, splits, config = build_method(experiment, seed)
    history = fit(method, splits.train, splits.val, config, on_step=on_step, on_epoch=on_epoch)
    return method, splits, history


def _run_seed(experiment: Experiment, seed: int) -> pd.DataFrame:
    method, splits, _ = train_method(experiment, seed)
    device = resolve_device(experiment.device)
    rows = []
    for text in experiment.test_protocols:
        protocol = parse_protocol(text, splits.spec)
        rows += evaluate(method, splits.test, protocol, seed=_mask_seed(experiment, seed), device=device)
    table = pd.DataFrame(rows)
    table.insert(0, "seed", seed)
    table.insert(0, "method", experiment.method)
    table.insert(0, "dataset", experiment.dataset)
    return table[COLUMNS]


def run(experiment: Experiment, use_cache: bool = True) -> pd.DataFrame:
    """Train and score every seed of ``experiment`` (or read them from the cache): one tidy table."""
    tables = []
    for seed in experiment.seed_list():
        path = cache_dir() / f"{experiment.key(seed)}.csv"
        if use_cache and path.exists():
            tables.append(pd.read_csv(path, keep_default_na=False))
            continue
        table = _run_seed(experiment, seed)
        if use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(path.with_suffix(".tmp"), index=False)
            path.with_suffix(".tmp").replace(path)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def run_all(experiments, use_cache: bool = True) -> pd.DataFrame:
    """:func:`run` for several experiments, one table."""
    return pd.concat([run(e, use_cache) for e in experiments], ignore_index=True)


def summarize(table: pd.DataFrame, by: tuple[str, ...] = ("dataset", "method", "protocol", "condition", "metric")
              ) -> pd.DataFrame:
    """Mean, standard deviation, count and 95% interval (Student t) over seeds, one row per group."""
    from scipy import stats

    grouped = table.groupby(list(by), sort=False)["value"]
    summary = grouped.agg(mean="mean", std="std", n="count").reset_index()
    summary["std"] = summary["std"].fillna(0.0)
    half = stats.t.ppf(0.975, (summary["n"] - 1).clip(lower=1)) * summary["std"] / np.sqrt(summary["n"])
    summary["ci95_low"] = summary["mean"] - half.where(summary["n"] > 1, np.nan)
    summary["ci95_high"] = summary["mean"] + half.where(summary["n"] > 1, np.nan)
    return summary
