"""The outputs nbval checks: every `# NBVAL_CHECK_OUTPUT` cell keeps a stored output that nbval will compare (a
cell stored without one, or without an execution count, would be skipped and pass whatever it shows), no other
cell keeps one, and book/checked_outputs.py stores them from a smoke execution only."""
import copy
from pathlib import Path

import nbformat
import pytest
from checked_outputs import checked, store  # book/ is on sys.path: ../conftest.py

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def test_some_cells_are_checked():
    assert sum(checked(cell) for path in NOTEBOOKS for cell in nbformat.read(path, 4).cells) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_only_checked_cells_keep_an_output_and_each_has_one(path):
    for index, cell in enumerate(nbformat.read(path, 4).cells):
        if cell.cell_type != "code":
            continue
        if checked(cell):
            assert cell.outputs and cell.execution_count, f"cell {index} is checked but has no stored run"
        else:
            assert not cell.outputs, f"cell {index} keeps an output that nothing checks"


def notebook_pair(tmp_path, profile):
    """A notebooks/ folder with one checked cell, and its execution at ``profile`` under executed/."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\n1 + 1"), nbformat.v4.new_code_cell("2 + 2")]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "a.ipynb")
    ran = copy.deepcopy(nb)
    ran.metadata["papermill"] = {"parameters": {"profile": profile}}
    for cell, value in zip(ran.cells, ("2", "4")):
        cell.execution_count = 1
        cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": value}, execution_count=1)]
    (tmp_path / "executed" / "notebooks").mkdir(parents=True)
    nbformat.write(ran, tmp_path / "executed" / "notebooks" / "a.ipynb")
    return tmp_path / "notebooks"


def test_store_copies_the_checked_outputs_only(tmp_path):
    notebooks = notebook_pair(tmp_path, "smoke")
    assert store(tmp_path / "executed", notebooks) == ["notebooks/a.ipynb"]
    first, second = nbformat.read(notebooks / "a.ipynb", 4).cells
    assert first.outputs[0]["data"]["text/plain"] == "2" and first.execution_count == 1
    assert not second.outputs


def test_store_refuses_an_execution_at_another_profile_and_writes_nothing(tmp_path):
    notebooks = notebook_pair(tmp_path, "quick")
    before = (notebooks / "a.ipynb").read_text()
    with pytest.raises(SystemExit, match="quick"):
        store(tmp_path / "executed", notebooks)
    assert (notebooks / "a.ipynb").read_text() == before
