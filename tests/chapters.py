"""A chapter's declared claims (notebooks/<chapter>/paper_claims.py), imported by path as the ledger imports them."""
import importlib.util
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def paper_claims(chapter: str):
    path = NOTEBOOKS / chapter / "paper_claims.py"
    spec = importlib.util.spec_from_file_location(f"{chapter}_paper_claims", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
