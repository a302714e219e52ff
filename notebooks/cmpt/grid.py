"""Helpers shared by the CMPT chapter's notebooks, defined once: the mean ± std display, the availability
settings of Tables 1 and 6, the tidy table a claim is judged on, and judging a notebook's claims.

The claims themselves are declared in ``paper_claims.py`` and judged by :mod:`mmlib.claims`; nothing here decides
a verdict. Seeds are the profile's (:data:`mmlib.experiment.PROFILES`: 5 at quick, 10 at paper) unless a notebook
is given ``seeds``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mmlib import claims
from mmlib.experiment import summarize
from mmlib.missing import SingleAbsence

import paper_claims

PAPER_RESULTS = Path(__file__).resolve().parents[2] / "book" / "paper_results"
CLAIM_COLUMNS = ["method", "seed", "dataset", "condition", "metric", "value"]

#: CMPT's "% availability" settings (Tables 1 and 6): missing-image, missing-both and missing-text at eta = 70%
AVAILABILITY = dict(zip(paper_claims.AVAILABILITY, ({"image": 0.3}, {"image": 0.65, "text": 0.65}, {"text": 0.3})))
PROTOCOL = {label: SingleAbsence.availability(shares).label for label, shares in AVAILABILITY.items()}
SETTING = {text: label for label, text in PROTOCOL.items()}


def mean_std(table: pd.DataFrame, by, metric: str = "accuracy", scale: float = 100) -> pd.DataFrame:
    """'mean ± std' over seeds (in %), one row per group."""
    rows = summarize(table[table.metric == metric], by=by)
    rows["value"] = [f"{m * scale:.1f} ± {s * scale:.1f}" for m, s in zip(rows["mean"], rows["std"])]
    return rows


def tidy(table: pd.DataFrame, metric: str | None = "accuracy", **assign) -> pd.DataFrame:
    """The table a claim is judged on: one value per (method, seed, dataset, condition), one metric."""
    if metric is not None and "metric" in table.columns:
        table = table[table.metric == metric]
    return table.assign(**assign)[CLAIM_COLUMNS].reset_index(drop=True)


def judge_and_show(tables: dict[str, pd.DataFrame | None], key: str, source: str, profile: str):
    """Judge each declared claim (by id) on its table (None: not run at this profile), display the rows, glue
    them under ``key`` for book/cmpt.md and record them for the ledger."""
    judged = [claims.judge(paper_claims.BY_ID[claim_id], table) for claim_id, table in tables.items()]
    return claims.show(judged, key=key, source=source, profile=profile)
