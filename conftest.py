"""What every pytest run of this repository shares: the notebooks' settings for nbval, and one results cache for
every notebook execution of the session.

`pytest --nbval-lax notebooks/` (and `make test`, which collects notebooks/ after tests/) executes every notebook
with nbval, each in a kernel started in its own folder:

- at profile smoke: the parameters cells read their default profile from ``MMLIB_PROFILE``, which the kernels get
  set to ``smoke`` whatever the caller's shell says;
- with the threads and workers of a book build's kernels (``build_book.kernel_threads``);
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
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "book"))  # build_book, for the tests and here

from build_book import LAST, kernel_threads  # noqa: E402

SANITIZE = ROOT / "notebooks" / "nbval_sanitize.cfg"

# Oversubscribed torch threads slow down by 5x to 100x on small machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# No progress bars in test logs.
os.environ["MMLIB_QUIET"] = "1"


def pytest_configure(config):
    config.mmlib_notebook_cache = Path(tempfile.mkdtemp(prefix="mmlib-notebook-cache-"))
    if hasattr(config.option, "nbval_current_env"):  # nbval is installed (the `test` extra)
        config.option.nbval_current_env = not config.option.nbval_kernel_name  # unless a kernel is named
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
    items.sort(key=lambda item: is_notebook_cell(item) and item.path.relative_to(ROOT).as_posix() in LAST)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A notebook's kernel starts in the setup of its first cell and inherits this environment: the session's
    notebook cache, profile smoke, and a book build kernel's threads."""
    if not is_notebook_cell(item):
        yield
        return
    kernel = {"MMLIB_CACHE": str(item.config.mmlib_notebook_cache), "MMLIB_PROFILE": "smoke", **kernel_threads()}
    previous = {name: os.environ.get(name) for name in kernel}
    os.environ.update(kernel)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
