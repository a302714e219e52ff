"""Dataset names, where their files are looked for, and :func:`load_dataset`.

The data folder is looked for in this order (the first place that holds the dataset's folder wins):

1. the ``data_dir`` argument (when given, only there);
2. ``$MMLIB_DATA``;
3. ``../shared/data`` next to the repository (the repository is the folder that holds the ``mmlib`` package);
4. ``../shared/data`` relative to the current working directory;
5. ``data/`` in the repository (where ``python -m data_scripts.fetch NAME`` puts the files).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from . import avletters, avmnist, matviews, mfeat, mosi, npz
from .cache import REPO_ROOT
from .core import DataError, Splits, standardize


@dataclass(frozen=True)
class _Entry:
    folders: tuple[str, ...]  # folders inside the data root, passed to the loader in this order
    main_files: tuple[str, ...]  # what the error message says is looked for
    loader: Callable[..., Splits]


_DATASETS: dict[str, _Entry] = {
    "mosi": _Entry((mosi.FOLDER,), (f"{mosi.FOLDER}/{mosi.FILE}",), mosi.load),
    "avmnist": _Entry((avmnist.MNIST_FOLDER, avmnist.FSDD_FOLDER),
                      (f"{avmnist.MNIST_FOLDER}/{avmnist.IMAGES}", f"{avmnist.FSDD_FOLDER}/recordings/"),
                      partial(avmnist.load, variant="avmnist")),
    "avmnist_mce": _Entry((avmnist.MNIST_FOLDER, avmnist.FSDD_FOLDER),
                          (f"{avmnist.MNIST_FOLDER}/{avmnist.IMAGES}", f"{avmnist.FSDD_FOLDER}/recordings/"),
                          partial(avmnist.load, variant="avmnist_mce")),
    "mfeat": _Entry((mfeat.FOLDER,), tuple(f"{mfeat.FOLDER}/mfeat-{v}.csv" for v in mfeat.VIEWS), mfeat.load),
    **{name: _Entry((info.folder,), (f"{info.folder}/{info.file}",), partial(matviews.load, name=name))
       for name, info in matviews.SETS.items()},
    "avletters": _Entry((avletters.FOLDER,), (f"{avletters.FOLDER}/{avletters.LIPS}/",
                                              f"{avletters.FOLDER}/{avletters.AUDIO}/"), avletters.load),
}

# the data-fetch name of each dataset (avmnist_mce uses the same files as avmnist)
FETCH_NAME = {name: name for name in _DATASETS} | {"avmnist_mce": "avmnist"}


def dataset_names() -> list[str]:
    """The named datasets (besides ``npz:PATH`` for your own data)."""
    return list(_DATASETS)


def _candidates(data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    if data_dir is not None:
        return [(Path(data_dir).expanduser(), "the data_dir argument")]
    places = []
    if os.environ.get("MMLIB_DATA"):
        places.append((Path(os.environ["MMLIB_DATA"]).expanduser(), "$MMLIB_DATA"))
    places += [(REPO_ROOT.parent / "shared" / "data", "../shared/data next to the repository"),
               (Path.cwd().parent / "shared" / "data", "../shared/data relative to the working directory"),
               (REPO_ROOT / "data", "data/ in the repository")]
    unique, seen = [], set()
    for path, how in places:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            unique.append((path, how))
    return unique


def _places(candidates: list[tuple[Path, str]]) -> str:
    return "; ".join(f"{path} ({how}{'' if path.is_dir() else ', does not exist'})" for path, how in candidates)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The first existing data folder in the lookup order (see the module docstring)."""
    candidates = _candidates(data_dir)
    for path, _ in candidates:
        if path.is_dir():
            return path
    raise DataError(f"no data folder found; looked in: {_places(candidates)}. Get the data with "
                    f"`python -m data_scripts.fetch all`, set $MMLIB_DATA, or pass data_dir=")


def _folder(name: str, folder: str, entry: _Entry, data_dir) -> Path:
    candidates = _candidates(data_dir)
    for path, _ in candidates:
        if (path / folder).is_dir():
            return path / folder
    wanted = ", ".join(f for f in entry.main_files if f.startswith(folder + "/"))
    raise DataError(f"dataset {name!r}: folder {folder}/ (with {wanted}) not found; looked in: "
                    f"{_places(candidates)}. Get it with `python -m data_scripts.fetch {FETCH_NAME[name]}` "
                    f"(or set $MMLIB_DATA, or pass data_dir=)")


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, standardized: bool = True) -> Splits:
    """Train, validation and test splits of a named dataset, or of your own file with ``"npz:PATH"``.

    With ``standardized=True`` (the default) vector and sequence modalities are z-scored with training
    statistics (:func:`~mmlib.data.core.standardize`). Bad or missing files raise :class:`DataError`."""
    if not isinstance(name, str):
        raise DataError(f"dataset name must be a string, got {name!r}")
    if name.startswith("npz:"):
        where = name[4:]
        if not where:
            raise DataError("npz: needs a path, e.g. load_dataset('npz:/path/to/data.npz')")
        load, args, source = npz.load, [where], where
    else:
        entry = _DATASETS.get(name)
        if entry is None:
            raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(_DATASETS)} "
                            f"(or 'npz:PATH' for your own .npz file)")
        args = [_folder(name, folder, entry, data_dir) for folder in entry.folders]
        load, source = entry.loader, ", ".join(map(str, args))
    try:
        splits = load(*args)
    except DataError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OSError) as error:
        # the loaders check what they read; this only turns a case they missed into the same kind of error
        raise DataError(f"dataset {name!r}: unexpected content in {source} [{type(error).__name__}: {error}]") \
            from error
    return standardize(splits) if standardized else splits


def describe_datasets(data_dir: str | os.PathLike | None = None):
    """A table (pandas DataFrame) with one row per named dataset: modalities, split sizes, classes and what it
    stands in for. A dataset that cannot be loaded gets its error in the ``status`` column."""
    import pandas as pd

    rows = []
    for name in _DATASETS:
        try:
            splits = load_dataset(name, data_dir, standardized=False)
        except DataError as error:
            rows.append({"dataset": name, "status": str(error)})
            continue
        spec = splits.spec
        rows.append({
            "dataset": name,
            "modalities": ", ".join(f"{m.name}:{m.kind}:{'x'.join(map(str, m.shape))}" for m in spec.modalities),
            **splits.sizes(),
            "classes": spec.num_classes,
            "stands_in_for": spec.stands_in_for,
            "split_rule": spec.split_rule,
            "status": "ok",
        })
    columns = ["dataset", "modalities", "train", "val", "test", "classes", "stands_in_for", "split_rule", "status"]
    return pd.DataFrame(rows, columns=columns)
