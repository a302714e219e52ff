"""Where runs are kept, and the code version that keys them: below the experiment layer, so that the methods (which
keep pre-trained sub-models, :mod:`mmlib.trained`) and the claims ledger use them without importing experiments.

A run's :class:`Record` (its tidy scores, its per-epoch history and its per-class scores) is one JSON file under
``results/``, keyed by :meth:`mmlib.experiment.Experiment.key`; :func:`load_record` checks what it reads and
never serves a damaged record. The trained model's weights are kept beside it (``<key>.pt``,
:func:`save_weights`), so that a notebook that looks inside a trained model loads it rather than training it again
(:func:`mmlib.experiment.trained`).

Everything lives under ``$MMLIB_CACHE`` (default ``<repo>/.cache``): ``results/`` (:mod:`mmlib.experiment`),
``models/`` (:mod:`mmlib.trained`), ``claims/`` (:mod:`mmlib.claims`), ``data/`` (:mod:`mmlib.data.cache`).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

__all__ = ["UNDER_TRAINED", "under_trained", "NOT_RESULTS", "code_version", "cache_root", "cache_dir", "Record", "RESULT_COLUMNS", "save_record",
           "load_record", "record_path", "save_weights", "load_weights", "exclusive"]

PACKAGE = Path(__file__).resolve().parent
# Modules that read results but never produce them: editing them must not throw the results cache away
# (benchmark.py builds grids, but every setting of a run it builds is in the run's key: Experiment.key).
NOT_RESULTS = {"claims.py", "plots.py", "bench.py", "benchmark.py", "__main__.py"}


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of every source file of mmlib that can change a result (all but :data:`NOT_RESULTS`): any change to
    that code invalidates cached results."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() in NOT_RESULTS:
            continue
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """``$MMLIB_CACHE``, else ``<repo>/.cache``."""
    root = os.environ.get("MMLIB_CACHE")
    return Path(root).expanduser() if root else PACKAGE.parent / ".cache"


def cache_dir() -> Path:
    """The results cache."""
    return cache_root() / "results"


@contextlib.contextmanager
def exclusive(name: str, wait: bool = True):
    """Hold the cache's lock ``name`` (a file under ``<cache>/locks``) for the ``with`` block: one process at a time
    computes what is kept under that name, and the others, waiting, then read it rather than compute it again (two
    notebooks built side by side that need one run). Advisory ``flock``, released when the process ends; where
    the platform has none (Windows) the block runs unlocked.

    Yields True when the lock is held. With ``wait=False`` it does not wait for another process that holds it
    but yields False at once, and the block runs without it (:func:`mmlib.experiment.records` then turns to its
    other runs and comes back to this one later)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield True
        return
    path = cache_root() / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # wait=False and another process holds it
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------------ run records

@dataclass
class Record:
    """What one run leaves, or (concatenated over seeds) one experiment: ``results``, the tidy scores (a row per
    ``dataset, method, seed, protocol, condition, metric, value``); ``history``, a row per epoch trained (``epoch``,
    the mean of each loss term ``loss_<term>``, ``val_score``, ``kept`` on the epoch whose weights were scored,
    ``epochs_allowed``); ``classes``, the accuracy (recall) and support of each class under each test condition."""

    results: pd.DataFrame
    history: pd.DataFrame
    classes: pd.DataFrame

    PARTS = ("results", "history", "classes")

    @classmethod
    def concat(cls, records) -> "Record":
        records = list(records)
        return cls(*(pd.concat([getattr(r, part) for r in records], ignore_index=True) for part in cls.PARTS))


RESULT_COLUMNS = ["dataset", "method", "seed", "protocol", "condition", "metric", "value"]
HISTORY_COLUMNS = ["dataset", "method", "seed", "epoch", "val_score", "kept", "epochs_allowed"]
CLASS_COLUMNS = ["dataset", "method", "seed", "protocol", "condition", "class", "accuracy", "support"]
_REQUIRED = {"results": RESULT_COLUMNS, "history": ["dataset", "method", "seed", "epoch", "kept", "epochs_allowed"],
             "classes": CLASS_COLUMNS}


def record_path(key: str) -> Path:
    return cache_dir() / f"{key}.json"


def save_record(key: str, record: Record) -> None:
    """Keep a run's record under its key: one JSON file, written whole or not at all (several processes may share
    the cache)."""
    path = record_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"key": key, "code": code_version(),
               **{part: getattr(record, part).to_dict(orient="list") for part in Record.PARTS}}
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(content))
    temporary.replace(path)


def load_record(key: str) -> Record | None:
    """The run's record, or None when there is none. A damaged record (cut short, edited, another key's or another
    code version's) is never served: it is reported with a warning and None is returned, so that the run is
    recomputed and the record rewritten."""
    path = record_path(key)
    if not path.exists():
        return None
    try:
        content = json.loads(path.read_text())
        if not isinstance(content, dict) or content.get("key") != key or content.get("code") != code_version():
            raise ValueError("it belongs to another run or another code version")
        parts = {part: pd.DataFrame(content[part]) for part in Record.PARTS}
        for part, columns in _REQUIRED.items():
            missing = [column for column in columns if column not in parts[part]]
            if missing:
                raise ValueError(f"its {part} lack {', '.join(missing)}")
        if parts["results"].empty or parts["history"].empty:
            raise ValueError("it holds no results or no history")
        if not pd.api.types.is_numeric_dtype(parts["results"]["value"]):
            raise ValueError("its values are not numbers")
    except (OSError, ValueError, TypeError, KeyError) as error:  # json.JSONDecodeError is a ValueError
        warnings.warn(f"damaged run record {path} ({error}): the run is recomputed", stacklevel=2)
        return None
    parts["classes"]["class"] = parts["classes"]["class"].astype(str)
    return Record(**parts)


def _weights_path(key: str) -> Path:
    return cache_dir() / f"{key}.pt"


def save_weights(key: str, state: dict) -> None:
    """Keep a run's trained weights (a state dict) beside its record, written whole or not at all."""
    import torch

    path = _weights_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save({name: value.detach().cpu() for name, value in state.items()}, temporary)
    temporary.replace(path)


def load_weights(key: str) -> dict | None:
    """A run's trained weights, or None when none were kept or the file is damaged (with a warning)."""
    import torch

    path = _weights_path(key)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a file cut short or not a state dict: train again
        warnings.warn(f"damaged weights {path} ({error}): the run is trained again", stacklevel=2)
        return None


#: above this share of runs that kept their last allowed epoch, a comparison is under-trained at its profile
UNDER_TRAINED = 0.2


def under_trained(history: pd.DataFrame) -> float:
    """The share of runs (a :attr:`Record.history`, one row per run and epoch, exactly one row of each run ``kept``)
    whose kept epoch is the last one their budget allowed: more training might have helped them. Above
    :data:`UNDER_TRAINED`, a comparison is under-trained at that profile."""
    kept = history[history["kept"].astype(bool)]
    return float((kept["epoch"] == kept["epochs_allowed"] - 1).mean()) if len(kept) else float("nan")
