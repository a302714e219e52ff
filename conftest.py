"""What every pytest run of this repository shares: the notebooks' settings for nbval, and one results cache for
every notebook execution of the session.

`pytest --nbval-lax notebooks/` (and `make test`, which collects notebooks/ after tests/) executes every notebook
with nbval, each in a kernel started in its own folder:

- at profile smoke: the parameters cells read their default profile from ``MMLIB_PROFILE``, set here unless the
  caller set it;
- in this interpreter (the venv's), whatever other `python3` kernel is registered (``--nbval-current-env``);
- with ``notebooks/nbval_sanitize.cfg`` applied to the outputs compared (addresses, times, paths, progress bars);
- the claims ledger last, after the notebooks that record its claims (as ``book/build_book.py`` orders them);
- in the session's notebook cache (``config.mmlib_notebook_cache``), which the book-build test
  (``tests/conftest.py::built_book``) fills first: nbval then reads the runs the build trained instead of
  training them again. Cells marked ``# NBVAL_CHECK_OUTPUT`` compare their output with the stored one
  (``book/checked_outputs.py`` stores it).
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "notebooks" / "nbval_sanitize.cfg"
LAST = ("claims_ledger.ipynb",)

# Oversubscribed torch threads slow down by 5x to 100x on small machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# No progress bars in test logs.
os.environ["MMLIB_QUIET"] = "1"
os.environ.setdefault("MMLIB_PROFILE", "smoke")


def pytest_configure(config):
    config.mmlib_notebook_cache = Path(tempfile.mkdtemp(prefix="mmlib-notebook-cache-"))
    if hasattr(config.option, "nbval_current_env"):  # nbval is installed (the `test` extra)
        config.option.nbval_current_env = True
        config.option.nbval_sanitize_with = config.option.nbval_sanitize_with or str(SANITIZE)


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "mmlib_notebook_cache", ""), ignore_errors=True)


def is_notebook_cell(item) -> bool:
    return item.path.suffix == ".ipynb"


def pytest_collection_modifyitems(config, items):
    """Notebook cells are slow tests (`-m "not slow"` leaves them out); the claims ledger's cells run after every
    other notebook's (a stable sort keeps the rest in order)."""
    for item in items:
        if is_notebook_cell(item):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: is_notebook_cell(item) and item.path.name in LAST)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A notebook's kernel starts in the setup of its first cell: it inherits the session's notebook cache."""
    if not is_notebook_cell(item):
        yield
        return
    previous = os.environ.get("MMLIB_CACHE")
    os.environ["MMLIB_CACHE"] = str(item.config.mmlib_notebook_cache)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MMLIB_CACHE", None)
        else:
            os.environ["MMLIB_CACHE"] = previous
