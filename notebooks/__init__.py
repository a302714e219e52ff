"""The book's notebooks, and beside each chapter's notebooks its experiment grid (``grid.py``) and its declared
claims (``paper_claims.py``), importable from any working directory: ``from notebooks.dream import grid``."""
from pathlib import Path

#: this folder: one sub-folder per chapter
FOLDER = Path(__file__).resolve().parent
