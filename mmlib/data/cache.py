"""Source files and the prepared-array cache.

Parsing 3,000 wav files (AV-MNIST) or 1,560 small files (AVLetters) on every ``load_dataset`` call would be
slow, so a loader may hand its parsing to :func:`cached_arrays`. The parsed arrays are kept

1. in this process (a small dictionary), and
2. on disk, as one uncompressed ``.npz`` under ``$MMLIB_CACHE`` or else ``<repo>/.cache/data/``.

Both are keyed by the dataset name, the loader's version string and a hash of the source files' relative names,
sizes and modification times, so a changed source file or a changed loader gives a new key: a stale entry is
never reused (and older entries of the same dataset are deleted when a new one is written). The disk cache is a
convenience only: if it cannot be written or read, the sources are parsed again.

This module also holds the small file helpers that every loader uses, so that a missing or unreadable file
fails in one way: a :class:`~mmlib.data.core.DataError` that names it.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from .core import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]
_MEMORY: dict[str, dict[str, np.ndarray]] = {}
_MEMORY_MAX = 8  # entries kept in this process (the largest, AVLetters, is about 45 MB)


# ------------------------------------------------------------------------------------------- file helpers

def require_file(path: Path, what: str = "") -> Path:
    """``path`` if it is a file, else a DataError naming it."""
    path = Path(path)
    if not path.is_file():
        kind = "is not a file" if path.exists() else "not found"
        raise DataError(f"{path}: {kind}" + (f" ({what})" if what else ""))
    return path


def unreadable(path: Path | str, error: BaseException, hint: str = "") -> DataError:
    """The DataError for a file that exists but cannot be parsed (truncated, corrupt, wrong format)."""
    detail = f"{type(error).__name__}: {error}".strip().rstrip(":")
    return DataError(f"{path}: cannot be read, the file is truncated or not in the expected format"
                     + (f" ({hint})" if hint else "") + f" [{detail}]")


# ------------------------------------------------------------------------------------------------- cache

def cache_dir() -> Path:
    """The prepared-data cache: ``data/`` under the one cache root (:func:`mmlib.store.cache_root`)."""
    from ..store import cache_root

    return cache_root() / "data"


def _walk(path: Path) -> Iterable[tuple[str, os.stat_result]]:
    if path.is_file():
        yield path.name, path.stat()
        return
    stack = [path]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif entry.is_file():
                    yield os.path.relpath(entry.path, path.parent), entry.stat()


def fingerprint(sources: Iterable[Path | str], version: str) -> str:
    """A hash of the loader version and every source file's relative name, size and mtime (folders are walked)."""
    lines = [f"version={version}"]
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise DataError(f"{source}: not found")
        lines += [f"{name}\t{st.st_size}\t{st.st_mtime_ns}" for name, st in sorted(_walk(source))]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]


def _copy(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # a broken cache entry: parse again
        warnings.warn(f"ignoring unreadable cache file {path} ({error})", stacklevel=3)
        return None


def _write(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; the cache may be shared
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        prefix = path.name.rsplit("-", 1)[0] + "-"
        for old in path.parent.glob(prefix + "*.npz"):  # stale entries of the same dataset
            if old != path and old.name.rsplit("-", 1)[0] + "-" == prefix:
                old.unlink(missing_ok=True)
    except OSError as error:
        warnings.warn(f"could not write the data cache {path} ({error}); the data will be parsed again next time",
                      stacklevel=3)


def cached_arrays(name: str, sources: Iterable[Path | str], version: str,
                  build: Callable[[], Mapping[str, np.ndarray]], disk: bool = True) -> dict[str, np.ndarray]:
    """The arrays ``build()`` returns for these sources, from the cache when the key matches.

    Always returns fresh copies, so callers may turn them into tensors and modify them in place."""
    key = f"{name}-{fingerprint(sources, version)}"
    if key in _MEMORY:
        return _copy(_MEMORY[key])
    path = cache_dir() / f"{key}.npz"
    arrays = _read(path) if disk and path.is_file() else None
    if arrays is None:
        arrays = {k: np.asarray(v) for k, v in build().items()}
        if disk:
            _write(path, arrays)
    for old in [k for k in _MEMORY if k.rsplit("-", 1)[0] == name]:
        del _MEMORY[old]
    while len(_MEMORY) >= _MEMORY_MAX:
        del _MEMORY[next(iter(_MEMORY))]
    _MEMORY[key] = arrays
    return _copy(arrays)


def clear_memory() -> None:
    """Forget the arrays held in this process (the disk cache stays)."""
    _MEMORY.clear()
