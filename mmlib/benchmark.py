"""The benchmark: every method under every paper's protocol family, tuned alike, on every dataset.

None of the five papers compares the others' methods under its own protocol, let alone under the others'. This
module builds that grid, runs it through :func:`mmlib.experiment.records` (so through the results cache and the
Dask cluster of :func:`mmlib.experiment.map_in_workers`), and returns one tidy table; ``notebooks/benchmark/``
reads it into ranks, a critical-difference diagram, a heatmap and verdicts. ``python -m mmlib benchmark`` runs it
without the book.

**Protocol families** (:data:`FAMILIES`), each from the paper that evaluates under it, each built for any dataset
from its modality names (the first modality is ``m0``, the second ``m1``):

| family | train and validation | test | from |
|---|---|---|---|
| ``test only`` | complete | every subset of the modalities | DREAM Table 1, MMP Table I |
| ``same at train and test`` | ``kappa:0.7`` | ``kappa:0.7`` | MGR Tables 1-2, CMPT Table 1 |
| ``train and test differ`` | ``absent:m0=0.7`` | ``absent:m1=0.7`` | CMPT Table 6 |
| ``imbalanced rates`` | ``rates:`` 0.2 to 0.8 spread over the modalities | every subset | MCE Tables 3-5 |
| ``missing frames`` | ``frames:0.5`` | ``frames:0.5`` | DREAM Figure 3 (sequence sets only) |
| ``heterogeneous`` | ``heterogeneous:0.6`` | ``heterogeneous:0.6`` | DREAM Appendix A.4 |
| ``absence on one modality`` | ``kappa:0.7:m0`` | ``kappa:0.7:m0`` | MGR Tables 3-4 |

A run's score in a cell is its accuracy averaged over the test protocol's conditions (as :mod:`mmlib.claims`
averages conditions within a dataset).

**Tuned alike** (:func:`trial_options`): every method gets the same number of trials per (dataset, family), a
seeded random search over its learning rate, width, dropout and its own loss weights (:data:`SEARCH`, ranges per
method), trial 0 always the paper's recipe (the method's ``recipe`` and constructor defaults). Each trial trains
seed 0 under the family's protocol; the trial with the best validation score (the kept epoch's, chosen under the
protocol: :func:`mmlib.experiment.validation_sets`) is retrained over the profile's seeds. Every method of a
dataset trains for the same epochs, patience and selection rule (:func:`mmlib.experiment.budget`, which
``records`` enforces); batch size, optimiser and schedule are each recipe's.

| | smoke | quick | paper |
|---|---|---|---|
| cells | one dataset per family (:data:`QUICK_CELLS`) | the same | every family on every dataset it applies to |
| trials per method and cell | 1 (the recipe) | 1 (the recipe) | 8 |
| width d of every model | 16 | 32 | searched; each method's default (64, DREAM 200) in trial 0 |
| epochs (every model on a dataset alike) | 2 | MOSI 6, the others 10 | 30 |
| pre-training stages (CMPT, MCE) | at most the epochs | at most the epochs | the recipe's |
| seeds | 1 | 5 | 10 |

At ``quick`` a trial is the paper's recipe at the profile's width and epochs: what the comparison can say there is
"under each paper's own recipe", not "tuned", and the book says so.
"""
from __future__ import annotations

import hashlib
import inspect
import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .data import load_dataset
from .experiment import Experiment, records
from .store import under_trained
from .methods import METHODS

__all__ = ["FAMILIES", "BENCHMARK_METHODS", "PAPER_METHODS", "REFERENCE", "SEARCH", "PLANS", "Cell", "cells",
           "trial_options", "search_space", "tuning_grid", "chosen_trials", "final_grid", "run_benchmark", "cell_scores", "cell_summary",
           "RankTest", "rank_test", "against_reference", "tally"]

#: every registered method the benchmark compares (the variants of one paper's method, mmp_lp and the like, are
#: the chapters' business); SimBaMM is the simple bar (Rheude et al. 2025)
BENCHMARK_METHODS = ("concat", "dropout", "transformer", "transformer_dropout", "simbamm", "maps", "mmin", "dream",
                     "cmpt", "mgr", "mce", "mmp")
#: each paper's method, by the name the book gives its paper
PAPER_METHODS = {"dream": "DREAM", "cmpt": "CMPT", "mgr": "MGR", "mce": "MCE", "mmp": "MMP"}
#: the comparator every paper's method is judged against, declared before any number: modality dropout, the
#: simplest robustness baseline (the same network as ``concat`` trained with modalities dropped)
REFERENCE = "dropout"


@dataclass(frozen=True)
class Family:
    paper: str  # where the protocol comes from
    build: Callable[[Sequence[str]], tuple[str | None, tuple[str, ...]]]  # modality names -> (train, tests)
    needs_sequences: bool = False


def _rates(names: Sequence[str]) -> str:
    rates = np.linspace(0.2, 0.8, len(names))
    return "rates:" + ",".join(f"{name}={rate:.2g}" for name, rate in zip(names, rates))


FAMILIES: dict[str, Family] = {
    "test only": Family("DREAM Table 1, MMP Table I", lambda m: (None, ("subsets",))),
    "same at train and test": Family("MGR Tables 1-2, CMPT Table 1", lambda m: ("kappa:0.7", ("kappa:0.7",))),
    "train and test differ": Family("CMPT Table 6", lambda m: (f"absent:{m[0]}=0.7", (f"absent:{m[1]}=0.7",))),
    "imbalanced rates": Family("MCE Tables 3-5", lambda m: (_rates(m), ("subsets",))),
    "missing frames": Family("DREAM Figure 3", lambda m: ("frames:0.5", ("frames:0.5",)), needs_sequences=True),
    "heterogeneous": Family("DREAM Appendix A.4", lambda m: ("heterogeneous:0.6", ("heterogeneous:0.6",))),
    "absence on one modality": Family("MGR Tables 3-4", lambda m: (f"kappa:0.7:{m[0]}", (f"kappa:0.7:{m[0]}",))),
}


#: the search space: ``train.lr``, the model's ``d_model`` and ``dropout`` for every method, and each method's own
#: loss weights (its paper's names), each a ``("log-uniform", low, high)`` or a ``("one of", *values)``; trial 0 is
#: never drawn from it (the paper's recipe)
COMMON_SEARCH = {"train.lr": ("log-uniform", 1e-4, 3e-3), "d_model": ("one of", 32, 64, 128),
                 "dropout": ("one of", 0.0, 0.1, 0.2, 0.3)}
SEARCH: dict[str, dict] = {
    "dream": {"distill_weight": ("log-uniform", 0.01, 1.0)},
    "cmpt": {"align_weight": ("log-uniform", 0.05, 1.0)},
    "mgr": {"lambda_div": ("log-uniform", 0.01, 1.0), "alpha_u": ("one of", 0.25, 0.5, 1.0)},
    "mce": {"lambda_single": ("log-uniform", 0.25, 4.0), "lambda_sub": ("log-uniform", 0.5, 8.0),
            "lambda_aux": ("log-uniform", 0.25, 4.0)},
    "mmp": {"alignment_weight": ("log-uniform", 0.1, 10.0)},
    "mmin": {"forward_weight": ("log-uniform", 1.0, 16.0), "cycle_weight": ("log-uniform", 0.5, 8.0)},
}


def _draw(rng: np.random.Generator, space: tuple):
    kind, *values = space
    if kind == "log-uniform":
        low, high = values
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return values[int(rng.integers(len(values)))]


def search_space(methods: Sequence[str] = BENCHMARK_METHODS) -> pd.DataFrame:
    """The ranges each method's trials draw from, one row per (method, option): for the page."""
    return pd.DataFrame([dict(method=method, option=name, draw=space[0],
                              range=f"{space[1]:g} to {space[2]:g}" if space[0] == "log-uniform"
                              else ", ".join(f"{v:g}" for v in space[1:]))
                         for method in methods for name, space in {**COMMON_SEARCH, **SEARCH.get(method, {})}.items()])


@dataclass(frozen=True)
class Plan:
    datasets: dict[str, tuple[str, ...]]  # family -> its datasets
    trials: int
    d_model: int | None  # every model's width in trial 0; None: the method's default
    epochs: dict[str, int]  # dataset -> the epochs of every model on it (absent: the profile's cap, else the recipe's)


#: the datasets of the paper profile (every dataset of the book; AudiovisionMNIST, MCE's smaller AV-MNIST, is left
#: to its chapter) and its sequence sets, where the frames family applies
PAPER_DATASETS = ("mosi", "avmnist", "mfeat", "cub", "scene15", "landuse21", "msrc", "avletters")
SEQUENCE_DATASETS = ("avletters", "avmnist")
#: at quick, one dataset per family, each family on a dataset of the kind its paper used, spread over four datasets
#: so that the ranks are not one dataset's: MOSI (1447 training samples, three vector modalities) where DREAM and
#: MCE evaluate, CUB (420, image and text features) for CMPT's two, MSRC (147, four feature sets) for MGR's
#: restricted absence, AVLetters for the frames
QUICK_CELLS = {"test only": ("mosi",), "same at train and test": ("cub",), "train and test differ": ("cub",),
               "imbalanced rates": ("mosi",), "missing frames": ("avletters",), "heterogeneous": ("mosi",),
               "absence on one modality": ("msrc",)}
#: the pre-training stages some methods run before their own epochs, by constructor option: at smoke and quick they
#: get at most the dataset's epochs (their recipes' 20 and 10 would outweigh the budget every model shares)
STAGE_EPOCHS = {"cmpt": "pretrain_epochs", "mce": "unimodal_epochs"}

PLANS = {
    "smoke": Plan(QUICK_CELLS, 1, 16, {}),
    # MOSI at 6 epochs: its validation score flattens within a few (the MGR chapter's measurement); 10 elsewhere
    "quick": Plan(QUICK_CELLS, 1, 32, {"mosi": 6, "cub": 10, "msrc": 10, "avletters": 10}),
    "paper": Plan({family: SEQUENCE_DATASETS if FAMILIES[family].needs_sequences else PAPER_DATASETS
                   for family in FAMILIES}, 8, None, {dataset: 30 for dataset in PAPER_DATASETS}),
}


def _plan(profile: str) -> Plan:
    if profile not in PLANS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PLANS)}")
    return PLANS[profile]


@dataclass(frozen=True)
class Cell:
    dataset: str
    family: str
    train_protocol: str | None
    test_protocols: tuple[str, ...]


def cells(profile: str, datasets: Sequence[str] | None = None, families: Sequence[str] | None = None,
          data_dir: str | None = None) -> list[Cell]:
    """The (dataset, family) cells of a profile: every family on the profile's datasets, the frames family on its
    sequence sets (or on ``datasets`` where given: a family that does not apply to a dataset is left out)."""
    plan = _plan(profile)
    unknown = set(families or ()) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown protocol families {sorted(unknown)}; expected some of {list(FAMILIES)}")
    found = []
    for name in families or FAMILIES:
        family = FAMILIES[name]
        chosen = datasets or plan.datasets.get(name, ())
        for dataset in chosen:
            spec = load_dataset(dataset, data_dir=data_dir).spec
            if family.needs_sequences and not any(m.kind == "sequence" for m in spec.modalities):
                continue
            if spec.num_modalities < 2:
                continue
            train, tests = family.build(spec.modality_names)
            found.append(Cell(dataset, name, train, tests))
    return found


def _stable_seed(*parts) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def trial_options(method: str, trial: int, cell: Cell, profile: str) -> tuple[dict, dict]:
    """(method options, training options) of one trial: trial 0 the paper's recipe at the profile's width, the
    others drawn from :data:`COMMON_SEARCH` and the method's :data:`SEARCH` with a generator seeded by the cell,
    method and trial (the same draws on every machine)."""
    plan = _plan(profile)
    model: dict = {} if plan.d_model is None else {"d_model": plan.d_model}
    epochs = plan.epochs.get(cell.dataset)
    training: dict = {} if epochs is None else {"epochs": epochs}
    if method in STAGE_EPOCHS and epochs is not None and profile != "paper":
        option = STAGE_EPOCHS[method]
        model[option] = min(epochs, inspect.signature(METHODS[method]).parameters[option].default)
    if trial > 0:
        rng = np.random.default_rng(_stable_seed(cell.dataset, cell.family, method, trial))
        for name, space in {**COMMON_SEARCH, **SEARCH.get(method, {})}.items():
            value = _draw(rng, space)
            if name.startswith("train."):
                training[name[len("train."):]] = value
            else:
                model[name] = value
    if method == "dream" and "d_model" in model:  # DREAM's backbone is built like the others (its twin: dropout)
        model["backbone_options"] = {"d_model": model["d_model"]}
    return model, training


def _experiment(cell: Cell, method: str, trial: int, profile: str, seeds=None, data_dir=None,
                device: str = "auto") -> Experiment:
    model, training = trial_options(method, trial, cell, profile)
    return Experiment(cell.dataset, method, seeds=seeds, test_protocols=cell.test_protocols,
                      train_protocol=cell.train_protocol, profile=profile, method_options=model,
                      train_options=training, data_dir=data_dir, device=device)


#: the seed of the tuning runs: apart from every profile's seeds, so that no final replicate is the run its trial
#: was chosen on (which would bias that replicate upwards)
TUNING_SEED = 1000


def tuning_grid(profile: str, grid_cells: Sequence[Cell], methods: Sequence[str], data_dir=None,
                device: str = "auto") -> dict[tuple[str, str, str, int], Experiment]:
    """Every trial of every method in every cell, on :data:`TUNING_SEED`: (dataset, family, method, trial) ->
    experiment."""
    trials = _plan(profile).trials
    return {(c.dataset, c.family, m, t): _experiment(c, m, t, profile, (TUNING_SEED,), data_dir, device)
            for c in grid_cells for m in methods for t in range(trials)}


def chosen_trials(profile: str, grid_cells: Sequence[Cell], methods: Sequence[str], data_dir=None,
                  use_cache: bool = True, device: str = "auto") -> pd.DataFrame:
    """Run the tuning grid (nothing with one trial) and choose each (cell, method)'s trial: the best validation
    score of the kept epoch, the first trial on a tie. One row per (dataset, family, method): ``trial`` and
    ``val_score``."""
    grid = tuning_grid(profile, grid_cells, methods, data_dir, device)
    if _plan(profile).trials == 1:
        return pd.DataFrame([dict(dataset=d, family=f, method=m, trial=0, val_score=math.nan)
                             for d, f, m, _ in grid])
    found = records(list(grid.values()), use_cache)
    rows = []
    for (dataset, family, method, trial), record in zip(grid, found):
        kept = record.history[record.history["kept"]]
        rows.append(dict(dataset=dataset, family=family, method=method, trial=trial,
                         val_score=float(kept["val_score"].iloc[0]) if len(kept) else -math.inf))
    scores = pd.DataFrame(rows)
    scores["val_score"] = scores["val_score"].fillna(-math.inf)  # a trial without a validation score never wins
    best = scores.sort_values("trial").groupby(["dataset", "family", "method"], sort=False)["val_score"].idxmax()
    return scores.loc[best].reset_index(drop=True)


def final_grid(profile: str, chosen: pd.DataFrame, grid_cells: Sequence[Cell], data_dir=None,
               seeds: Sequence[int] | None = None, device: str = "auto") -> dict[tuple[str, str, str], Experiment]:
    """The chosen trial of each (cell, method) over ``seeds`` (None: the profile's): (dataset, family, method) ->
    experiment, retrained on seeds apart from the tuning run's."""
    by_cell = {(c.dataset, c.family): c for c in grid_cells}
    seeds = None if seeds is None else tuple(seeds)
    return {(row.dataset, row.family, row.method):
            _experiment(by_cell[row.dataset, row.family], row.method, int(row.trial), profile, seeds, data_dir,
                        device)
            for row in chosen.itertuples()}


def run_benchmark(profile: str = "quick", datasets: Sequence[str] | None = None,
                  methods: Sequence[str] | None = None, families: Sequence[str] | None = None,
                  data_dir: str | None = None, use_cache: bool = True, seeds: Sequence[int] | None = None,
                  device: str = "auto") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tune and run the grid: (results, runs). ``results``: the tidy table of :mod:`mmlib.experiment` with a
    ``family`` column; ``runs``: one row per (dataset, family, method, seed) with the chosen ``trial``, its
    ``val_score``, the model's ``parameters`` and its training ``seconds`` (the wall time of the run where it was
    trained, read from its history)."""
    methods = tuple(methods or BENCHMARK_METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; available: {', '.join(sorted(METHODS))}")
    grid_cells = cells(profile, datasets, families, data_dir)
    if not grid_cells:
        raise ValueError("no (dataset, protocol family) cell: the families asked for do not apply to the datasets")
    chosen = chosen_trials(profile, grid_cells, methods, data_dir, use_cache, device)
    grid = final_grid(profile, chosen, grid_cells, data_dir, seeds, device)
    found = records(list(grid.values()), use_cache)
    tables, runs = [], []
    trial_of = chosen.set_index(["dataset", "family", "method"])
    for (dataset, family, method), experiment, record in zip(grid, grid.values(), found):
        tables.append(record.results.assign(family=family))
        history = record.history
        parameters = _parameters(experiment)
        for seed, part in history.groupby("seed"):
            runs.append(dict(dataset=dataset, family=family, method=method, seed=seed,
                             trial=int(trial_of.loc[(dataset, family, method), "trial"]),
                             val_score=float(part.loc[part["kept"], "val_score"].iloc[0]) if part["kept"].any()
                             else math.nan,
                             parameters=parameters,
                             seconds=float(part["elapsed_s"].max()) if "elapsed_s" in part else math.nan,
                             kept_last=bool(under_trained(part) > 0)))
    return pd.concat(tables, ignore_index=True), pd.DataFrame(runs)


def _parameters(experiment: Experiment) -> int:
    from .experiment import build_method

    method, _, _ = build_method(replace(experiment, seeds=(0,)), 0)
    return sum(p.numel() for p in method.parameters())


def cell_scores(results: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """One score per run and cell: the metric averaged over the test protocol's conditions. Columns dataset,
    family, method, seed, value."""
    chosen = results[results["metric"] == metric]
    return (chosen.groupby(["dataset", "family", "method", "seed"], sort=False)["value"].mean().reset_index())


def cell_summary(results: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Per (dataset, family, method): mean, standard deviation, n and 95% interval over seeds of the cell score."""
    from .experiment import summarize

    return summarize(cell_scores(results, metric), by=("dataset", "family", "method"))


@dataclass(frozen=True)
class RankTest:
    """Average ranks over cells (1 = the highest score), the Friedman test's p-value, and the Nemenyi post-hoc
    p-values between every two methods (a methods x methods table)."""
    average_ranks: pd.Series
    cells: int
    pvalue: float
    nemenyi: pd.DataFrame

    def diagram(self, ax=None, alpha: float = 0.05):
        """The critical-difference diagram: methods on the average-rank axis, a bar joining every group that the
        Nemenyi test does not tell apart at ``alpha`` (:func:`scikit_posthocs.critical_difference_diagram`)."""
        import matplotlib.pyplot as plt
        from scikit_posthocs import critical_difference_diagram

        ax = ax or plt.subplots(figsize=(9, 3.2))[1]
        critical_difference_diagram(self.average_ranks, self.nemenyi, ax=ax, alpha=alpha)
        ax.set_title(f"average rank over {self.cells} cells (1 = the highest accuracy); a bar joins methods the "
                     f"Nemenyi test does not tell apart at {alpha:.0%}", fontsize=10)
        return ax


def rank_test(results: pd.DataFrame, metric: str = "accuracy") -> RankTest:
    """Each method's average rank over the (dataset, family) cells (of its mean cell score; ties share the mean
    rank), with the Friedman test of "every method ranks alike" (:func:`scipy.stats.friedmanchisquare`) and the
    Nemenyi post-hoc test between every two methods (:func:`scikit_posthocs.posthoc_nemenyi_friedman`): Demsar's
    protocol for comparing classifiers over many data sets. Only methods run in every cell are ranked."""
    from scikit_posthocs import posthoc_nemenyi_friedman
    from scipy.stats import friedmanchisquare

    means = cell_scores(results, metric).groupby(["dataset", "family", "method"])["value"].mean()
    wide = means.unstack("method").dropna(axis=1)
    if wide.shape[0] < 2 or wide.shape[1] < 3:
        raise ValueError(f"a rank test needs at least 2 cells and 3 methods run in all of them, not {wide.shape}")
    ranks = wide.rank(axis=1, ascending=False).mean().sort_values()
    pvalue = float(friedmanchisquare(*(wide[m].to_numpy() for m in wide.columns)).pvalue)
    nemenyi = posthoc_nemenyi_friedman(wide.reset_index(drop=True))
    return RankTest(ranks, len(wide), pvalue, nemenyi)


def against_reference(results: pd.DataFrame, methods: Sequence[str] | None = None, metric: str = "accuracy"
                      ) -> pd.DataFrame:
    """Each paper's method against :data:`REFERENCE` in each (dataset, family) cell: does it beat modality dropout
    here? One row per method and cell: the mean per-seed difference of the cell score and its 95% interval (accuracy
    points x 100), ``n`` and ``mde``, from :func:`mmlib.claims.compare`; ``p``, the two-sided p-value of that
    difference, and ``p_holm``, Holm-adjusted over the method's cells (:func:`mmlib.claims.holm`: a method is tested
    in every cell, and one of k tests could cross by chance); ``outcome``: win or loss when ``p_holm`` < 0.05 (by
    the sign), else inconclusive (not a tie, which would need an equivalence margin)."""
    from scipy import stats

    from .claims import ALPHA, compare, holm

    methods = [m for m in (methods or PAPER_METHODS) if m in set(results["method"])]
    scores = cell_scores(results, metric).assign(metric=metric)
    rows = []
    for (dataset, family), cell in scores.groupby(["dataset", "family"], sort=False):
        for method in methods:
            verdict = compare(cell.drop(columns="family"), method, REFERENCE)
            if verdict.n >= 2 and verdict.high > verdict.mean:
                se = (verdict.high - verdict.mean) / stats.t.ppf(1 - ALPHA / 2, verdict.n - 1)
                p = float(2 * stats.t.sf(abs(verdict.mean) / se, verdict.n - 1))
            elif verdict.n < 2:  # one replicate: no interval, no test
                p = math.nan
            else:  # no spread over the replicates: the difference is exact
                p = 1.0 if abs(verdict.mean) < 1e-12 else 0.0
            rows.append(dict(method=method, dataset=dataset, family=family, difference=100 * verdict.mean,
                             low=100 * verdict.low, high=100 * verdict.high, n=verdict.n, mde=100 * verdict.mde, p=p))
    judged = pd.DataFrame(rows)
    if judged.empty:
        return judged.assign(p_holm=[], outcome=[])
    judged["p_holm"] = math.nan
    for method, part in judged.groupby("method"):
        tested = part["p"].notna()
        judged.loc[part.index[tested], "p_holm"] = holm(part.loc[tested, "p"].to_numpy())
    significant = judged["p_holm"] < ALPHA
    judged["outcome"] = np.where(significant & (judged["difference"] > 0), "win",
                                 np.where(significant & (judged["difference"] < 0), "loss", "inconclusive"))
    return judged


def tally(judged: pd.DataFrame) -> pd.DataFrame:
    """Wins / inconclusive / losses of each paper's method against the reference per protocol family (over datasets)."""
    counts = judged.groupby(["method", "family", "outcome"]).size().unstack("outcome", fill_value=0)
    for outcome in ("win", "inconclusive", "loss"):
        if outcome not in counts:
            counts[outcome] = 0
    return counts[["win", "inconclusive", "loss"]]
