"""Store the outputs that nbval checks: copy, into notebooks/, the outputs of every cell marked
``# NBVAL_CHECK_OUTPUT`` from the same notebooks executed at profile smoke.

    python book/build_book.py --profile smoke --out /tmp/smoke   # or any smoke execution of the notebooks
    python book/checked_outputs.py /tmp/smoke/src

Cells are matched by their id; every other cell of notebooks/ keeps no output. Run it after changing what a marked
cell shows (``pytest --nbval-lax notebooks/`` then fails with the difference until you do).
"""
import argparse
import sys
from pathlib import Path

import nbformat
from build_book import ROOT

MARKER = "# NBVAL_CHECK_OUTPUT"


def checked(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARKER)


def store(executed_root: Path, notebooks: Path = ROOT / "notebooks") -> list[str]:
    """Copy the marked cells' outputs of ``executed_root/notebooks/**.ipynb`` into ``notebooks``; returns what
    changed. Fails, writing nothing, when an executed copy lacks a marked cell or was not run at smoke."""
    updates = []
    for path in sorted(notebooks.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        marked = [cell for cell in nb.cells if checked(cell)]
        if not marked:
            continue
        name = path.relative_to(notebooks.parent)  # notebooks/<chapter>/<notebook>.ipynb
        copy_path = executed_root / name
        if not copy_path.is_file():
            raise SystemExit(f"{copy_path}: no executed copy of {name}")
        executed = nbformat.read(copy_path, as_version=4)
        profile = executed.metadata.get("papermill", {}).get("parameters", {}).get("profile")
        if profile != "smoke":
            raise SystemExit(f"{copy_path} was executed at profile {profile!r}, not 'smoke'")
        by_id = {cell.get("id"): cell for cell in executed.cells}
        for cell in marked:
            if cell.id not in by_id or not by_id[cell.id].get("outputs"):
                raise SystemExit(f"{copy_path}: cell {cell.id} is missing or has no output")
            cell.outputs = by_id[cell.id].outputs
            cell.execution_count = by_id[cell.id].execution_count  # nbval skips a cell with outputs but no count
        updates.append((path, nb))
    for path, nb in updates:
        nbformat.write(nb, path)
    return [str(path.relative_to(notebooks.parent)) for path, _ in updates]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("executed", type=Path, help="folder holding notebooks/ executed at smoke (OUT/src of a build)")
    for name in store(parser.parse_args(argv).executed):
        print(f"stored checked outputs: {name}")


if __name__ == "__main__":
    sys.exit(main())
