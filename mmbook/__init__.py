"""The book's chapters as a package, importable from any working directory: ``mmbook.<chapter>`` is the folder
``notebooks/<chapter>/``, with the chapter's experiment grid (``grid.py``) and declared claims (``paper_claims.py``)
beside its notebooks::

    from mmbook.dream import grid, paper_claims

A distinctive name rather than ``notebooks``: a reader's own project often has a ``notebooks/`` folder, which,
found first in the working directory, would stand in for this one. The modules stay in ``notebooks/``, next to the
notebooks that use them; this package only points there (``__path__``), so it works from the repository (an
editable install, as ``make venv`` does), which is where the notebooks are.
"""
from pathlib import Path

#: the book's notebooks: one sub-folder per chapter
FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
__path__ = [str(FOLDER)]
