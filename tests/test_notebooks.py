"""Every notebook in the table of contents runs at profile smoke without an error.

The notebooks are executed once per session, by the `built_book` fixture (book/build_book.py);
these tests read the executed copies. One notebook per chapter is then rerun with papermill as a reader would, from
the repository root and from another folder, reading the runs the build trained. (nbval executes every notebook
once more, from its own folder, with its checked outputs compared: see ../conftest.py.)
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from build_book import kernel_threads  # book/ is on sys.path: ../conftest.py

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def error_outputs(nb):
    """(cell index, description) of every output that shows an exception."""
    errors = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append((index, f"{output.get('ename')}: {output.get('evalue')}"))
            elif output.get("output_type") == "stream" and "Traceback" in output.get("text", ""):
                errors.append((index, output["text"][-500:]))
    return errors


def test_notebook_ran_without_error(built_book, toc_notebook):
    nb = nbformat.read(built_book.src / toc_notebook, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]

    assert nb.metadata["papermill"]["parameters"]["profile"] == "smoke"
    assert nb.metadata["papermill"].get("exception") is not True, f"{toc_notebook} raised"
    not_run = [index for index, cell in enumerate(code_cells) if cell.execution_count is None]
    assert not not_run, f"{toc_notebook}: code cells {not_run} did not run"
    assert any(cell.get("outputs") for cell in code_cells), f"{toc_notebook} has no outputs"
    assert not error_outputs(nb), f"{toc_notebook} shows errors: {error_outputs(nb)}"


#: one notebook per chapter (among its quickest), rerun as the README says a reader would
RERUN = ["dream/02_intra_modal.ipynb", "cmpt/01_missing_in_training.ipynb", "mgr/02_absence_types.ipynb",
         "mce/02_ablation.ipynb", "mmp/02_tables_3_5.ipynb"]


@pytest.mark.parametrize("notebook", RERUN)
@pytest.mark.parametrize("where", ["repository root", "another folder"])
def test_papermill_reruns_from_any_folder(built_book, pytestconfig, notebook, where, tmp_path):
    """`papermill notebooks/<chapter>/<notebook> out.ipynb -p profile smoke` from the repository root, and with the
    notebook's full path from a folder outside it: the chapter's grid, its claims and the paper's numbers are found
    through their package (`mmbook.<chapter>`) and `mmlib`, not through the working directory. Reads the runs
    the book build trained (the session's notebook cache)."""
    cwd = ROOT if where == "repository root" else tmp_path
    (tmp_path / "notebooks").mkdir()  # as in a reader's own project: it must not stand in for the book's
    source = Path("notebooks", notebook) if cwd == ROOT else ROOT / "notebooks" / notebook
    out = tmp_path / "out.ipynb"
    command = [sys.executable, "-m", "papermill", str(source), str(out), "-p", "profile", "smoke", "--no-progress-bar"]
    env = {**os.environ, "MMLIB_CACHE": str(pytestconfig.mmlib_notebook_cache), **kernel_threads()}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"papermill {notebook} from the {where} failed:\n{result.stderr[-3000:]}"
    nb = nbformat.read(out, as_version=4)
    assert nb.metadata["papermill"]["parameters"]["profile"] == "smoke"
    assert not error_outputs(nb), f"{notebook} from the {where} shows errors: {error_outputs(nb)}"
