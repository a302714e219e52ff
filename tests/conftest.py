"""Shared fixtures: the book, built once per test session at profile smoke."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# OMP_NUM_THREADS, MMLIB_QUIET and the notebooks' cache: see ../conftest.py

ROOT = Path(__file__).resolve().parent.parent

from build_book import toc_files, toc_notebooks  # noqa: E402  (book/ is on sys.path: ../conftest.py)

TOC = ROOT / "_toc.yml"


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Unit tests train and keep models in a cache of their own, so that what they check (that something is
    trained, or read back) does not depend on what a book build left in the repository's cache."""
    previous = os.environ.get("MMLIB_CACHE")
    os.environ["MMLIB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("MMLIB_CACHE", None)
    else:
        os.environ["MMLIB_CACHE"] = previous


@dataclass
class BuiltBook:
    out: Path   # the build folder
    src: Path   # the copied sources, with the executed notebooks
    html: Path  # the rendered book
    notebooks: list  # the notebooks executed, as listed in _toc.yml


def pytest_generate_tests(metafunc):
    """A test taking `toc_notebook` runs once per notebook in _toc.yml, `toc_page` once per page."""
    if "toc_notebook" in metafunc.fixturenames:
        metafunc.parametrize("toc_notebook", toc_notebooks(TOC))
    if "toc_page" in metafunc.fixturenames:
        metafunc.parametrize("toc_page", toc_files(TOC))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, pytestconfig):
    """Execute every notebook at profile smoke and build the HTML with warnings as errors."""
    out = tmp_path_factory.mktemp("book")
    command = [sys.executable, str(ROOT / "book" / "build_book.py"),
               "--profile", "smoke", "--out", str(out), "--werror"]
    # The session's notebook cache, empty at first: the notebooks really train here, rather than read a cache left
    # by an earlier run; nbval's executions of the same notebooks later in the session read these runs back.
    env = {**os.environ, "MMLIB_CACHE": str(pytestconfig.mmlib_notebook_cache)}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode != 0:
        pytest.fail(f"Book build failed (exit {result.returncode}):\n"
                    f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}", pytrace=False)
    print(result.stdout)
    return BuiltBook(out=out, src=out / "src", html=out / "html", notebooks=toc_notebooks(TOC))
