"""Where runs are kept, and the code version that keys them: below the experiment layer, so that the methods (which
keep pre-trained sub-models, :mod:`mmlib.trained`) and the claims ledger use them without importing experiments.

Everything lives under ``$MMLIB_CACHE`` (default ``<repo>/.cache``): ``results/`` (:mod:`mmlib.experiment`),
``models/`` (:mod:`mmlib.trained`), ``claims/`` (:mod:`mmlib.claims`).
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

__all__ = ["NOT_RESULTS", "code_version", "cache_root", "cache_dir"]

PACKAGE = Path(__file__).resolve().parent
# Modules that read results but never produce them: editing them must not throw the results cache away.
NOT_RESULTS = {"claims.py", "plots.py", "bench.py", "__main__.py"}


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
    return Path(root) if root else PACKAGE.parent / ".cache"


def cache_dir() -> Path:
    """The results cache."""
    return cache_root() / "results"
