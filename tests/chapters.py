"""A chapter's declared claims (notebooks/<chapter>/paper_claims.py), imported as the notebooks import them."""
import importlib


def paper_claims(chapter: str):
    return importlib.import_module(f"mmbook.{chapter}.paper_claims")
