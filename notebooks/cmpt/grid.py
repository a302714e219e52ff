"""Helpers shared by the CMPT chapter's notebooks, defined once: the training budget, the experiments each notebook
runs (built here so that their budgets can be checked without training), the mean ± std display, the availability
settings of Tables 1 and 6, the tidy table a claim is judged on, judging a notebook's claims and the computed
sentence on how many runs kept their last allowed epoch.

The claims themselves are declared in ``paper_claims.py`` and judged by :mod:`mmlib.claims`; nothing here decides
a verdict. Seeds are the profile's (:data:`mmlib.experiment.PROFILES`: 5 at quick, 10 at paper) unless a notebook
is given ``seeds``.

**One budget for every model of the chapter.** Every experiment below, CMPT, its no-proxy ablations and the
book's baselines alike, trains with ``train_options`` holding :data:`TRAINING`: CMPT's recipe epochs (the paper's
Table 5, image-text column: 10 epochs), capped by the profile (:func:`mmlib.experiment.training_config`), with the
patience (8) and selection rule ("protocol": the best validation epoch under the experiment's own protocol) that
every recipe of the book shares. The baselines' own recipe is 30 epochs; they are given CMPT's 10 so that a gap
between two models of one table is never a gap between two budgets (:func:`mmlib.experiment.records` refuses
models of one dataset trained under different budgets in one call, and each notebook runs all its models in one
call).

=========  ===========================  ========  =========  =====  ======================================
profile    epochs (every model)         patience  selection  seeds  why
=========  ===========================  ========  =========  =====  ======================================
smoke      2                            8         protocol   1      the smoke profile's cap (a check that
                                                                    the notebooks run, not a result)
quick      10                           8         protocol   5      CMPT's recipe (under quick's cap of 15)
paper      10                           8         protocol   10     CMPT's recipe (the baselines' own 30
                                                                    would differ from it)
=========  ===========================  ========  =========  =====  ======================================

Before this budget was set, smoke and quick gave every model the profile's cap (2 and 15 epochs) and paper gave
each its own recipe (CMPT 10, the baselines 30), which :func:`mmlib.experiment.records` now refuses.

Not equal, and said so in the notebooks and the page: CMPT's frozen encoders, and those of its no-proxy ablations,
are first pre-trained on the training split with its labels (``mmlib/methods/cmpt.py``: at most
``pretrain_epochs``, 20 by default and 10 on MOSI, and at most twice the fine-tuning epochs, so 4 at smoke), which
the baselines never get. Each claim against the baselines therefore has a companion row against CMPT's own network
without proxy tokens on the same pre-trained encoders (``paper_claims.py``, ids ending ``_same_encoders``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mmlib import claims
from mmlib.experiment import Experiment, records, summarize
from mmlib.methods.cmpt import CMPT
from mmlib.missing import SingleAbsence
from mmlib.store import UNDER_TRAINED, Record, under_trained

from . import paper_claims

CLAIM_COLUMNS = ["method", "seed", "dataset", "condition", "metric", "value"]

#: CMPT's recipe epochs (Table 5), given to every model of the chapter; the profile's cap still applies (smoke: 2)
EPOCHS = CMPT.recipe.epochs
#: the ``train_options`` of every experiment of the chapter (others are added to them, never replace them)
TRAINING = {"epochs": EPOCHS}

#: CMPT's "% availability" settings (Tables 1 and 6): missing-image, missing-both and missing-text at eta = 70%
AVAILABILITY = dict(zip(paper_claims.AVAILABILITY, ({"image": 0.3}, {"image": 0.65, "text": 0.65}, {"text": 0.3})))
PROTOCOL = {label: SingleAbsence.availability(shares).label for label, shares in AVAILABILITY.items()}
SETTING = {text: label for label, text in PROTOCOL.items()}

#: notebook 01's models (label: method, method options). "no proxy" is CMPT's network without proxy tokens on the
#: same pre-trained encoders (the options of notebook 02's "modality dropout"; the training split is incomplete
#: here, so neither it nor CMPT applies modality dropout)
TRAINING_MODELS = {"cmpt": ("cmpt", {}), paper_claims.SAME_ENCODERS_TRAINING: ("cmpt", {"use_cmpt": False}),
                   "transformer": ("transformer", {}), "dropout": ("dropout", {})}

#: notebook 02: CMPT and its two ablations without proxy tokens (Figures 3-7), the same frozen encoders
VARIANTS = {"CMPT": {}, "modality dropout": {"use_cmpt": False},
            "baseline": {"use_cmpt": False, "modality_dropout": None}}
assert tuple(VARIANTS)[1:] == paper_claims.NO_PROXY
assert paper_claims.SAME_ENCODERS in VARIANTS
#: the share of test samples that miss a modality on the curves of Figures 2, 3 and 5
SHARES = list(paper_claims.TEXT_MISSING_SHARES)
CURVES = tuple(f"absent:{name}={share:g}" for name in ("image", "text") for share in SHARES)
#: MOSI (our three-modality extension): batch 64 and 10 pre-training epochs to fit the CPU budget
MOSI_TRAINING = {"batch_size": 64}
MOSI_METHOD = {"pretrain_epochs": 10}


@dataclass(frozen=True)
class Run:
    """One experiment of a notebook, the label its models carry in the tables and figures, and extra columns."""

    label: str
    experiment: Experiment
    tags: dict = field(default_factory=dict)


def experiment(dataset: str, method: str, method_options: dict | None = None, train_options: dict | None = None,
               **options) -> Experiment:
    """An experiment of this chapter: the chapter's budget (:data:`TRAINING`) plus ``train_options``."""
    return Experiment(dataset, method, method_options=dict(method_options or {}),
                      train_options={**TRAINING, **(train_options or {})}, **options)


def availability_runs(seeds=None, profile="quick", device="auto", data_dir=None, models=TRAINING_MODELS
                      ) -> list[Run]:
    """Notebook 01 (Tables 1 and 6): each model trained at each availability setting on CUB and tested at all
    three; tagged with its training setting (column ``train``)."""
    options = dict(seeds=seeds, profile=profile, device=device, data_dir=data_dir)
    return [Run(label, experiment("cub", method, method_options, test_protocols=tuple(PROTOCOL.values()),
                                  train_protocol=PROTOCOL[train], **options), {"train": train})
            for train in AVAILABILITY for label, (method, method_options) in models.items()]


def av_datasets(profile: str) -> list[str]:
    """The audio-video stand-ins: AVLetters, and AV-MNIST at ``paper`` only."""
    return ["avletters"] + (["avmnist"] if profile == "paper" else [])


def test_runs(seeds=None, profile="quick", device="auto", data_dir=None) -> list[Run]:
    """Notebook 02 (trained on complete data, modalities missing at test), all in one call: on CUB, CMPT, its two
    no-proxy ablations and the baselines, tested on every subset and on the curves; on the audio-video sets, CMPT,
    its "modality dropout" ablation and the baselines; on MOSI, CMPT, the ablation and the baselines."""
    options = dict(seeds=seeds, profile=profile, device=device, data_dir=data_dir)
    av = av_datasets(profile)
    return [
        *[Run(label, experiment("cub", "cmpt", o, test_protocols=("subsets",) + CURVES, **options))
          for label, o in VARIANTS.items()],
        *[Run(m, experiment("cub", m, test_protocols=("subsets",) + CURVES, **options))
          for m in paper_claims.BASELINES],
        *[Run(label, experiment(d, "cmpt", VARIANTS[label], **options)) for d in av
          for label in ("CMPT", paper_claims.SAME_ENCODERS)],
        *[Run(label, experiment("mosi", "cmpt", {**MOSI_METHOD, **VARIANTS[label]}, MOSI_TRAINING, **options))
          for label in ("CMPT", paper_claims.SAME_ENCODERS)],
        *[Run(m, experiment(d, m, **options)) for d in [*av, "mosi"] for m in paper_claims.BASELINES],
    ]


def run_labelled(runs: list[Run]) -> Record:
    """Every run's :class:`~mmlib.store.Record` from one :func:`mmlib.experiment.records` call (so that one budget
    per dataset is checked over all of them), concatenated, its ``method`` column replaced by the run's label and
    its tags added as columns: results, per-epoch histories and per-class scores, from one training each."""
    got = records([run.experiment for run in runs])
    return Record.concat(Record(*(getattr(record, part).assign(method=run.label, **run.tags)
                                  for part in Record.PARTS)) for run, record in zip(runs, got))


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


def judge_and_show(tables: dict[str, pd.DataFrame | None], key: str, source: str, profile: str,
                   histories: dict[str, pd.DataFrame | None] | None = None):
    """Judge each declared claim (by id) on its table (None: not run at this profile), with the per-epoch histories
    of the runs behind it (``histories``, by id; none for a table not from trained runs), display the rows, glue
    them under ``key`` for book/cmpt.md and record them for the ledger."""
    histories = histories or {}
    judged = [claims.judge(paper_claims.BY_ID[claim_id], table, history=histories.get(claim_id))
              for claim_id, table in tables.items()]
    return claims.show(judged, key=key, source=source, profile=profile)


def budget_sentence(history: pd.DataFrame, comparisons: dict[str, pd.DataFrame] | None = None) -> str:
    """:func:`mmlib.claims.under_trained_sentence` for all of a notebook's runs (``history``), then the share per
    comparison (name: the histories of its runs) and whether each is under-trained at this profile."""
    text = claims.under_trained_sentence(history, "this notebook's models")
    if comparisons:
        text += " By comparison: " + "; ".join(
            f"{name}, {under_trained(part):.0%} ("
            f"{'under-trained' if under_trained(part) > UNDER_TRAINED else 'not under-trained'})"
            for name, part in comparisons.items()) + "."
    return text
