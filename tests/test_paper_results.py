"""The papers' reported numbers (book/paper_results) are data: each is labelled as the paper's and is found in
the paper's text, so that a typo or a number of ours cannot pass for the paper's."""
import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPERS = ROOT.parent / "shared" / "papers"
#: the file-name prefix of each chapter's tables -> the paper's text in ../shared/papers
PAPER_OF = {"dream": "000_", "cmpt": "001_", "mgr": "002_", "mce": "003_", "mmp": "004_"}
TABLES = sorted((ROOT / "book" / "paper_results").glob("*.csv"))


def paper_text(table: Path) -> str:
    prefix = PAPER_OF[table.name.split("_")[0]]
    matches = sorted(PAPERS.glob(f"{prefix}*.txt"))
    if not matches:
        pytest.skip(f"the papers are not beside the checkout ({PAPERS})")
    return matches[0].read_text()


def spellings(value: float) -> set[str]:
    """How the paper may print ``value``: as is or in percent, with 0 to 4 decimals."""
    found = set()
    for scaled in (abs(value), abs(value) * 100):
        for decimals in range(5):
            text = f"{scaled:.{decimals}f}"
            found.add(text)
            if "." in text:
                found.add(text.rstrip("0").rstrip("."))
    return found


def test_there_are_tables_for_every_paper():
    assert {table.name.split("_")[0] for table in TABLES} == set(PAPER_OF)


@pytest.mark.parametrize("table", TABLES, ids=lambda path: path.name)
def test_every_number_is_labelled_as_the_papers_and_found_in_its_text(table):
    text = paper_text(table)
    head = table.read_text().splitlines()[0]
    frame = pd.read_csv(table, comment="#")
    assert ("source" in frame and frame.source.str.startswith("paper").all()) or (
        head.startswith("#") and "as reported by the paper" in head), f"{table.name} does not say it is the paper's"
    printed = set(re.findall(r"\d+(?:\.\d+)?", text.replace(",", "")))
    column = next(c for c in ("value", "f1_weighted", "time", "parameters") if c in frame)
    missing = [value for value in frame[column].dropna() if not spellings(float(value)) & printed]
    assert not missing, f"{table.name}: {len(missing)} values not in the paper's text, e.g. {missing[:5]}"
