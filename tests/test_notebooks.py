"""Every notebook in the table of contents runs at profile smoke without an error.

The notebooks are executed once per session, by the `built_book` fixture (book/build_book.py);
these tests read the executed copies.
"""

import nbformat
import pytest

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
