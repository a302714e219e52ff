"""Claims and verdicts: a paper's claim as data, and the one rule that judges every claim of the book.

A :class:`Claim` says what a paper claims (its sentence and section, the evidence it cites) and the comparison
that tests it: a method against one or more comparators, on a metric, over datasets and conditions.
:func:`compare` judges a comparison on a tidy results table (the columns of :mod:`mmlib.experiment`):

1. **Replicates are runs**: the column ``replicate`` when the table has one, else ``seed`` together with
   ``mask_seed`` when the masks vary too, else ``seed``. The method and each comparator are paired on them.
   Where training and mask seeds are crossed (MGR's 3 x 2), runs that share a training seed are not fully
   independent, and an interval over the pairs is somewhat narrower than one that modelled both sources; give each
   run its own training seed where a grid allows it.
2. **Per replicate**, the difference ``method - comparator`` (``comparator - method`` when lower is better) is
   averaged over the claim's conditions within each dataset, then over datasets with equal weight, **before** any
   interval: repeating a condition, or a dataset with many conditions, cannot narrow it. A condition is every
   column that is not the method, a replicate column, the dataset, the metric or the value (``protocol``,
   ``condition`` and whatever the chapter adds).
3. **The verdict**, from the Student-t 95% interval of the mean difference over replicates:

   - **supported**: the interval lies above 0 (``kind="better"``), above ``-margin`` (``kind="on_par"``: not
     worse by more than the margin), or inside ``(-margin, margin)`` (``kind="equivalent"``: neither better nor
     worse by more than the margin, for claims of stability);
   - **contradicted**: it lies beyond that bound (below 0, below ``-margin``, or outside ``(-margin, margin)``);
   - **inconclusive**: otherwise (and with fewer than 2 replicates, where no interval exists);
   - **not tested**: a method, comparator, dataset or condition the claim names is not in the table, or no
     replicate has them all; the verdict says which.

   Several comparators (or ``every=True``: each condition on its own) make several tests. The claim is supported
   when every test is (an intersection-union test: each at the 5% level keeps the whole at 5%), and contradicted
   when any test lies beyond its bound after Holm's correction of their p-values (any one of k tests could cross
   by chance). The interval shown is the deciding test's. Differences smaller than 1e-12 are ties.

Every verdict carries its number of replicates ``n`` and ``mde``, the minimum detectable effect: the smallest
true difference that this many replicates, with the spread observed, would show to be above zero with 80%
probability at the 5% level, ``(t_{0.975} + t_{0.80}) * sd / sqrt(n)`` on ``n - 1`` degrees of freedom. A claim
whose effect is below its ``mde`` cannot be expected to come out *supported*: read *inconclusive* there as "too
few replicates", not as "no effect".

Beside ours, the paper's own effect (:class:`PaperEffect`, read from ``book/paper_results/``, never typed into a
notebook) and whether it lies inside our interval.

A notebook judges its claims with :func:`judge` and passes them to :func:`show`, which displays them, glues them for
the chapter's page and :func:`record` s them for the book's ledger (``book/claims.md``), which gathers every
chapter's rows with :func:`ledger`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .store import UNDER_TRAINED, cache_root, under_trained

__all__ = ["VERDICTS", "Verdict", "Claim", "Judged", "PaperEffect", "compare", "judge", "claims_table", "styled",
           "show", "record", "ledger", "declared_in", "minimum_detectable_effect", "holm"]

VERDICTS = ("supported", "contradicted", "inconclusive", "not tested")
ALPHA = 0.05
POWER = 0.80
KINDS = ("better", "on_par", "equivalent")
REPLICATE_COLUMNS = ("replicate", "seed", "mask_seed")
NOT_CONDITIONS = {"method", "dataset", "metric", "value", *REPLICATE_COLUMNS}
PAPER_RESULTS = Path(__file__).resolve().parent.parent / "book" / "paper_results"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one comparison. ``mean``, ``low``, ``high``: the mean difference and its 95% interval (of
    the deciding test when there are several); ``n``: replicates; ``mde``: the minimum detectable effect;
    ``comparator``: the comparator of the deciding test; ``reason``: why a claim is *not tested*, or a note."""

    verdict: str
    mean: float = math.nan
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    mde: float = math.nan
    comparator: str = ""
    condition: str = ""
    tests: int = 0
    reason: str = ""

    def interval(self, scale: float = 100.0, digits: int = 1, unit: str = " pts") -> str:
        """'mean [low, high] unit', e.g. '+2.3 [+0.4, +4.2] pts'; scale 100 turns fractions into points."""
        if self.verdict == "not tested" or math.isnan(self.mean):
            return "—"
        if math.isnan(self.low):
            return f"{self.mean * scale:+.{digits}f}{unit} (no interval)"
        return f"{self.mean * scale:+.{digits}f} [{self.low * scale:+.{digits}f}, {self.high * scale:+.{digits}f}]{unit}"


def minimum_detectable_effect(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true mean difference that ``n`` replicates with standard deviation ``sd`` show to be above 0
    (two-sided level ``alpha``) with probability ``power``: ``(t_{1-alpha/2} + t_{power}) sd / sqrt(n)``."""
    if n < 2:
        return math.inf
    df = n - 1
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * sd / math.sqrt(n))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the order given."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


TOLERANCE = 1e-12  # differences this small are ties (floating-point noise, not an effect)


@dataclass(frozen=True)
class _Test:
    comparator: str
    condition: str
    differences: np.ndarray  # one per replicate

    def summary(self) -> dict:
        d = self.differences
        n = len(d)
        mean = float(d.mean())
        if n < 2:
            return dict(mean=mean, low=math.nan, high=math.nan, n=n, mde=math.inf, se=math.nan)
        sd = float(d.std(ddof=1))
        if sd <= TOLERANCE * max(1.0, abs(mean)):
            sd = 0.0
        se = sd / math.sqrt(n)
        half = float(stats.t.ppf(1 - ALPHA / 2, n - 1) * se)
        return dict(mean=mean, low=mean - half, high=mean + half, n=n, mde=minimum_detectable_effect(sd, n), se=se)


def _p_value(distance: float, se: float, n: int) -> float:
    """Two-sided p-value of a mean ``distance`` away from a bound, with standard error ``se``."""
    if abs(distance) <= TOLERANCE:
        return 1.0
    if se == 0:
        return 0.0
    return float(2 * stats.t.sf(abs(distance) / se, n - 1))


def _replicate_columns(table: pd.DataFrame) -> list[str]:
    if "replicate" in table.columns:
        return ["replicate"]
    if "seed" not in table.columns:
        raise ValueError("the results table needs a 'seed' or a 'replicate' column")
    return ["seed", "mask_seed"] if "mask_seed" in table.columns else ["seed"]


def _condition_label(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    if not columns:
        return pd.Series("all", index=table.index)
    label = table[columns[0]].astype(str)
    for column in columns[1:]:
        label = label + " / " + table[column].astype(str)
    return label


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def compare(table: pd.DataFrame, method: str, comparator: str | Sequence[str], kind: str = "better",
            margin: float = 0.0, every: bool = False, *, metric: str | None = None,
            datasets: Sequence[str] | None = None, conditions: Sequence[str] | None = None,
            lower_is_better: bool = False) -> Verdict:
    """Judge ``method`` against ``comparator`` (a name, or a list: it must beat each) on a tidy results table.

    ``metric`` picks one metric when the table has several; ``datasets`` and ``conditions`` (values of the
    ``condition`` column) restrict the claim and must all be present, else the claim is *not tested*; None takes
    those the method and comparators share. See the module's docstring for the rule."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, not {margin}")
    comparators = _as_list(comparator)
    if not comparators:
        raise ValueError("compare needs at least one comparator")
    if method in comparators:
        raise ValueError(f"{method!r} cannot be its own comparator")
    if metric is not None and "metric" in table.columns:
        table = table[table["metric"] == metric]
    elif "metric" in table.columns and table["metric"].nunique() > 1:
        raise ValueError(f"the table has several metrics ({sorted(table['metric'].unique())}): name one")
    if "dataset" not in table.columns:
        table = table.assign(dataset="-")
    missing = [name for name in [method, *comparators] if name not in set(table["method"])]
    if missing:
        return Verdict("not tested", reason=f"not in the table: {', '.join(missing)}")
    if datasets is not None:
        absent = [d for d in datasets if d not in set(table["dataset"])]
        if absent:
            return Verdict("not tested", reason=f"dataset not in the table: {', '.join(absent)}")
        table = table[table["dataset"].isin(list(datasets))]
    if conditions is not None:
        if "condition" not in table.columns:
            return Verdict("not tested", reason="the table has no 'condition' column")
        absent = [c for c in conditions if c not in set(table["condition"])]
        if absent:
            return Verdict("not tested", reason=f"condition not in the table: {', '.join(absent)}")
        table = table[table["condition"].isin(list(conditions))]
    replicate = _replicate_columns(table)
    condition_columns = [c for c in table.columns if c not in NOT_CONDITIONS]
    table = table.assign(_condition=_condition_label(table, condition_columns))
    index = ["dataset", "_condition", *replicate]
    duplicated = table.duplicated(["method", *index])
    if duplicated.any():
        raise ValueError(f"{int(duplicated.sum())} rows repeat a (method, dataset, condition, replicate): "
                         f"the table needs one value per run and condition")
    wide = table.set_index([*index, "method"])["value"].unstack("method")
    sign = -1.0 if lower_is_better else 1.0
    tests: list[_Test] = []
    for name in comparators:
        pair = wide[[method, name]].dropna()
        if pair.empty:
            return Verdict("not tested", reason=f"{method} and {name} share no run and condition")
        difference = sign * (pair[method] - pair[name])
        if conditions is not None:
            shared = set(difference.index.get_level_values("_condition"))
            wanted = set(_condition_label(table[table["condition"].isin(list(conditions))], condition_columns))
            if not wanted <= shared:
                return Verdict("not tested", reason=f"{method} and {name} do not share: "
                                                    f"{', '.join(sorted(wanted - shared))}")
        if datasets is not None:
            absent = [d for d in datasets if d not in set(difference.index.get_level_values("dataset"))]
            if absent:
                return Verdict("not tested", reason=f"{method} and {name} share no run on {', '.join(absent)}")
        if every:
            for (dataset, condition), part in difference.groupby(level=["dataset", "_condition"], sort=False):
                label = condition if dataset == "-" else f"{dataset}: {condition}"
                tests.append(_Test(name, label, part.to_numpy(dtype=float)))
        else:
            means = _replicate_means(difference, replicate)
            if len(means) == 0:
                return Verdict("not tested", reason=f"no replicate of {method} and {name} covers every dataset")
            tests.append(_Test(name, "", means))
    return _decide(tests, kind, margin)


def _replicate_means(difference: pd.Series, replicate: list[str]) -> np.ndarray:
    """Per replicate: the mean over conditions within each dataset, then over datasets with equal weight; only the
    replicates present in every dataset."""
    per_dataset = difference.groupby(level=["dataset", *replicate], sort=True).mean()
    wide = per_dataset.unstack("dataset").dropna()
    return wide.mean(axis=1).to_numpy(dtype=float)


def _decide(tests: list[_Test], kind: str, margin: float) -> Verdict:
    """Supported when every test's 95% interval clears its bound (an intersection-union test: each at level 5%
    keeps the whole at 5%, no correction needed); contradicted when any test lies beyond it, with Holm's correction
    over the tests (any one of k could be significant by chance)."""
    summaries = [test.summary() for test in tests]
    if min(s["n"] for s in summaries) < 2:
        weakest = min(range(len(tests)), key=lambda i: summaries[i]["n"])
        s = summaries[weakest]
        return Verdict("inconclusive", s["mean"], s["low"], s["high"], s["n"], s["mde"], tests[weakest].comparator,
                       tests[weakest].condition, len(tests), reason=f"n = {s['n']}: no interval")
    lower = 0.0 if kind == "better" else -margin  # the interval must lie above this
    upper = margin if kind == "equivalent" else math.inf  # ... and below this
    cleared, distances = [], []
    for s in summaries:
        cleared.append(s["low"] - lower > TOLERANCE and upper - s["high"] > TOLERANCE)
        # how far the mean lies beyond a bound (0 when inside): the contradicting direction
        distances.append(min(s["mean"] - lower, 0.0) or max(s["mean"] - upper, 0.0))
    adjusted = holm([_p_value(d, s["se"], s["n"]) if d else 1.0 for d, s in zip(distances, summaries)])
    beyond = [bool(d) and p < ALPHA for d, p in zip(distances, adjusted)]
    if any(beyond):
        verdict = "contradicted"
        deciding = max((i for i in range(len(tests)) if beyond[i]), key=lambda i: abs(distances[i]))
    else:
        verdict = "supported" if all(cleared) else "inconclusive"
        deciding = min(range(len(tests)), key=lambda i: min(summaries[i]["low"] - lower, upper - summaries[i]["high"]))
    s = summaries[deciding]
    note = f"{len(tests)} tests (Holm for contradicted)" if len(tests) > 1 else ""
    return Verdict(verdict, s["mean"], s["low"], s["high"], s["n"], s["mde"], tests[deciding].comparator,
                   tests[deciding].condition, len(tests), reason=note)


# ----------------------------------------------------------------------------------------------- the paper's effect

@dataclass(frozen=True)
class PaperEffect:
    """The paper's own effect for a claim, read from ``book/paper_results/<file>``: the mean over the matching
    conditions of ``method - comparator`` (``comparator - method`` when the claim's lower is better; the largest
    comparator value, or the smallest when lower is better, when there are several comparators), times ``scale``
    (0.01 turns the paper's percentages into our fractions).

    ``where`` filters rows (column -> value or list of values); ``value`` names the column holding the numbers;
    ``method_column`` the column naming the models (``method`` or ``model``, found when None); ``condition``
    the column whose values are paired between method and comparator (``condition`` when None); ``log``: compare
    the natural logs of the numbers, so that the effect is a log-ratio (for times, where only ratios carry from the
    paper's hardware to ours; our side then compares logs too)."""

    file: str
    method: str
    comparator: str | tuple[str, ...]
    where: dict = field(default_factory=dict)
    value: str = "value"
    scale: float = 1.0
    method_column: str | None = None
    condition: str | None = None
    log: bool = False

    def rows(self) -> pd.DataFrame:
        path = PAPER_RESULTS / self.file
        if not path.exists():
            raise FileNotFoundError(f"no paper results at {path}")
        table = pd.read_csv(path, comment="#")
        for column, wanted in self.where.items():
            if column not in table.columns:
                raise KeyError(f"{self.file} has no column {column!r} (columns: {list(table.columns)})")
            table = table[table[column].isin(_as_list(wanted) if not isinstance(wanted, (int, float)) else [wanted])]
        if self.log:
            table = table.assign(**{self.value: np.log(table[self.value].astype(float))})
        return table

    def effect(self, lower_is_better: bool = False) -> float:
        table = self.rows()
        model = self.method_column or ("method" if "method" in table.columns else "model")
        condition = self.condition or "condition"
        keys = [condition] if condition in table.columns else []
        comparators = _as_list(self.comparator)
        values = table.pivot_table(index=keys or None, columns=model, values=self.value, aggfunc="mean") \
            if keys else table.groupby(model)[self.value].mean().to_frame().T
        missing = [m for m in [self.method, *comparators] if m not in values.columns]
        if missing:
            raise KeyError(f"{self.file} (filtered by {self.where}) has no rows for {missing}")
        values = values[[self.method, *comparators]].dropna()
        if values.empty:
            raise KeyError(f"{self.file}: {self.method} and {comparators} share no condition")
        strongest = values[comparators].min(axis=1) if lower_is_better else values[comparators].max(axis=1)
        difference = (strongest - values[self.method]) if lower_is_better else (values[self.method] - strongest)
        return float(difference.mean() * self.scale)


# ------------------------------------------------------------------------------------------------------- claims

@dataclass(frozen=True)
class Claim:
    """A claim of a paper and the comparison that tests it, declared once in the chapter's ``claims.py``.

    ``paper``, ``section``, ``sentence`` and ``evidence`` say what the paper claims and on what; ``method``,
    ``comparator``, ``metric``, ``datasets``, ``conditions``, ``kind``, ``margin``, ``every`` and
    ``lower_is_better`` are :func:`compare`'s; ``paper_effect`` reads the paper's own effect; ``notebook`` is the
    notebook that computes it (relative to ``notebooks/``); ``scale`` and ``unit`` say how its effects are shown
    (100 and " pts" for a fraction, 1 and " s" for seconds...) with ``digits`` decimals; ``note`` says what we chose where the paper's
    evidence could not be followed; ``paper_comparable=False`` shows the paper's effect but neither asks whether it lies
    in our interval nor plots it beside ours (a raw distance, a count on models of another size)."""

    id: str
    paper: str
    section: str
    sentence: str
    evidence: str
    method: str
    comparator: str | tuple[str, ...]
    metric: str | None = None
    datasets: tuple[str, ...] | None = None
    conditions: tuple[str, ...] | None = None
    kind: str = "better"
    margin: float = 0.0
    every: bool = False
    lower_is_better: bool = False
    paper_effect: PaperEffect | None = None
    notebook: str = ""
    scale: float = 100.0
    unit: str = " pts"
    digits: int = 1
    note: str = ""
    paper_comparable: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, not {self.kind!r}")
        if not self.id or not self.sentence:
            raise ValueError("a claim needs an id and the paper's sentence")

    def comparators(self) -> list[str]:
        return _as_list(self.comparator)

    def runs_behind(self, history: pd.DataFrame, column: str = "method") -> pd.DataFrame:
        """The rows of ``history`` (per-epoch histories of runs) behind this claim, for :func:`judge`'s ``history``:
        its method's and comparators' (names read from ``column``), on its datasets when it names some."""
        rows = history[column].isin([self.method, *self.comparators()])
        if self.datasets:
            rows &= history["dataset"].isin(list(self.datasets))
        return history[rows]

    def the_paper_effect(self) -> float:
        return math.nan if self.paper_effect is None else self.paper_effect.effect(self.lower_is_better)


@dataclass(frozen=True)
class Judged:
    """A claim with its verdict on one table, and the paper's effect."""

    claim: Claim
    verdict: Verdict
    paper_effect: float

    @property
    def paper_inside(self) -> bool | None:
        """Whether the paper's effect lies inside our 95% interval (None when either is missing)."""
        if math.isnan(self.paper_effect) or math.isnan(self.verdict.low) or not self.claim.paper_comparable:
            return None
        return bool(self.verdict.low <= self.paper_effect <= self.verdict.high)

    def row(self) -> dict:
        claim, verdict = self.claim, self.verdict
        scale, unit = claim.scale, claim.unit
        paper = "—" if math.isnan(self.paper_effect) else f"{self.paper_effect * scale:+.{claim.digits + 1}f}{unit}"
        comparators = ", ".join(claim.comparators())
        mde = "—" if verdict.verdict == "not tested" or math.isnan(verdict.mde) else (
            "∞" if math.isinf(verdict.mde) else f"{verdict.mde * scale:.{claim.digits}f}{unit}")
        inside = {None: "—", True: "yes", False: "no"}[self.paper_inside]
        detail = verdict.reason
        if verdict.condition:
            detail = "; ".join(filter(None, [f"deciding: {verdict.condition}", detail]))
        if len(claim.comparators()) > 1 and verdict.comparator:
            detail = "; ".join(filter(None, [f"vs {verdict.comparator}", detail]))
        return {"id": claim.id, "paper": claim.paper, "section": claim.section, "claim": claim.sentence,
                "paper's evidence": claim.evidence, "comparison": f"{claim.method} vs {comparators}"
                + (f" (on par within {claim.margin * scale:g}{unit})" if claim.kind == "on_par" else "")
                + (f" (within ±{claim.margin * scale:g}{unit})" if claim.kind == "equivalent" else "")
                + (" in every condition" if claim.every else ""),
                "paper's effect": paper, "ours": verdict.interval(scale, claim.digits, unit), "n": verdict.n, "MDE": mde,
                "paper inside": inside, "verdict": verdict.verdict, "detail": detail, "notebook": claim.notebook,
                "effect": verdict.mean * scale, "low": verdict.low * scale, "high": verdict.high * scale,
                "paper_effect": self.paper_effect * scale if claim.paper_comparable else math.nan, "unit": unit.strip()}


def judge(claim: Claim, table: pd.DataFrame | None, reason: str = "not run at this profile",
          history: pd.DataFrame | None = None) -> Judged:
    """Judge one declared claim on a tidy results table (None: not tested, for ``reason``).

    ``history``: the per-epoch histories of the runs behind ``table`` (:attr:`mmlib.store.Record.history`). When
    more than :data:`~mmlib.store.UNDER_TRAINED` of them kept the last epoch their budget allowed, the comparison
    is under-trained at this profile and the row says so (the verdict stands: both sides had the same budget)."""
    if table is None or len(table) == 0:
        verdict = Verdict("not tested", reason=reason)
    else:
        verdict = compare(table, claim.method, claim.comparator, claim.kind, claim.margin, claim.every,
                          metric=claim.metric, datasets=claim.datasets, conditions=claim.conditions,
                          lower_is_better=claim.lower_is_better)
        share = under_trained(history) if history is not None and len(history) else 0.0
        if share > UNDER_TRAINED and verdict.verdict != "not tested":
            verdict = replace(verdict, reason="; ".join(filter(None, [
                verdict.reason, f"under-trained at this profile: {share:.0%} of its runs kept their last epoch"])))
    if claim.note:
        verdict = replace(verdict, reason="; ".join(filter(None, [verdict.reason, claim.note])))
    return Judged(claim, verdict, claim.the_paper_effect())


def under_trained_sentence(history: pd.DataFrame, what: str) -> str:
    """The book's one sentence on whether the runs of ``what`` (their per-epoch histories,
    :attr:`mmlib.store.Record.history`, each run once) are under-trained at this profile: the share that kept the
    last epoch their budget allowed, against :data:`~mmlib.store.UNDER_TRAINED`."""
    kept = history[history["kept"].astype(bool)]
    if kept.empty:
        return f"No run of {what} was trained at this profile."
    share = under_trained(history)
    allowed = " or ".join(str(int(e)) for e in sorted(kept["epochs_allowed"].unique()))
    verdict = (f"more than {UNDER_TRAINED:.0%}, so this comparison is under-trained at this profile (more epochs might "
               "change it)" if share > UNDER_TRAINED else f"at most {UNDER_TRAINED:.0%}, so this comparison is not "
               "under-trained at this profile")
    return f"{share:.0%} of the {len(kept)} runs of {what} ({allowed} epochs allowed) kept their last epoch: {verdict}."


ROW_COLUMNS = ["id", "paper", "section", "claim", "paper's evidence", "comparison", "paper's effect", "ours", "n",
               "MDE", "paper inside", "verdict", "detail", "notebook", "effect", "low", "high", "paper_effect", "unit"]
SHOWN = ["section", "claim", "paper's evidence", "comparison", "paper's effect", "ours", "n", "MDE", "paper inside",
         "verdict", "detail"]


def claims_table(judged: Iterable[Judged] | pd.DataFrame, columns: Sequence[str] = tuple(SHOWN)) -> pd.DataFrame:
    """The rows shown for judged claims: the same columns in every chapter and in the ledger."""
    rows = judged if isinstance(judged, pd.DataFrame) else pd.DataFrame([j.row() for j in judged])
    return rows[list(columns)].reset_index(drop=True)


def styled(table: pd.DataFrame):
    """A claims table styled for the book: left-aligned text, the verdict coloured."""
    colours = {"supported": "#d8f0d8", "contradicted": "#f6d5d5", "inconclusive": "#f3f0d0", "not tested": "#e8e8e8"}
    # eleven columns in a page's column: a smaller type keeps each row a few lines high
    style = table.style.hide(axis="index").set_properties(**{"text-align": "left", "font-size": "0.8em"})
    style = style.set_table_styles([{"selector": "th", "props": [("font-size", "0.8em"), ("text-align", "left")]}])
    if "verdict" in table.columns:
        style = style.map(lambda v: f"background-color: {colours.get(v, 'white')}", subset=["verdict"])
    return style


def show(judged: Sequence[Judged], key: str, source: str, profile: str):
    """What a notebook does with its judged claims: display them, glue them under ``key`` for the chapter's page
    (``{glue:any}`` in ``book/<chapter>.md``) and :func:`record` them for the ledger. ``source`` is the notebook,
    relative to ``notebooks/`` (``"dream/01_inter_modal.ipynb"``)."""
    from IPython.display import display
    from myst_nb import glue

    judged = list(judged)
    table = styled(claims_table(judged))
    glue(key, table, display=False)
    display(table)
    record(judged, source, profile)
    return judged


# ------------------------------------------------------------------------------------------------------ the ledger

def ledger_dir(profile: str) -> Path:
    return cache_root() / "claims" / profile


def record(judged: Sequence[Judged], source: str, profile: str) -> Path:
    """Keep a notebook's judged claims for the ledger: one CSV per notebook (``source``) and profile."""
    path = ledger_dir(profile) / f"{source.replace('/', '__').removesuffix('.ipynb')}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame([j.row() for j in judged])
    table.to_csv(path.with_suffix(".tmp"), index=False)
    path.with_suffix(".tmp").replace(path)
    return path


def declared_in(folder: str | Path, filename: str = "paper_claims.py") -> list[Claim]:
    """Every claim declared in ``folder/*/<filename>`` (a module-level list ``CLAIMS``), chapter by chapter in
    name order; ids must be unique across the book."""
    import importlib.util

    found: list[Claim] = []
    for path in sorted(Path(folder).glob(f"*/{filename}")):
        spec = importlib.util.spec_from_file_location(f"_claims_of_{path.parent.name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not isinstance(getattr(module, "CLAIMS", None), (list, tuple)):
            raise ValueError(f"{path} must define a list CLAIMS of mmlib.claims.Claim")
        found += list(module.CLAIMS)
    ids = [claim.id for claim in found]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"claim ids declared twice: {', '.join(repeated)}")
    return found


def ledger(profile: str, declared: Sequence[Claim] = ()) -> pd.DataFrame:
    """Every claim recorded at ``profile``, with a *not tested* row for each declared claim no notebook recorded."""
    folder = ledger_dir(profile)
    parts = [pd.read_csv(path, keep_default_na=False, na_values=[""]) for path in sorted(folder.glob("*.csv"))]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ROW_COLUMNS)
    repeated = sorted(set(table.loc[table["id"].duplicated(), "id"]))
    if repeated:
        raise ValueError(f"claims recorded twice in {folder}: {', '.join(repeated)}")
    if declared:
        known = {claim.id for claim in declared}
        table = table[table["id"].isin(known)]
        absent = [claim for claim in declared if claim.id not in set(table["id"])]
        extra = [Judged(c, Verdict("not tested", reason="no notebook recorded it at this profile"), math.nan).row()
                 for c in absent]
        table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True) if extra else table
        order = {claim.id: i for i, claim in enumerate(declared)}
        table = table.sort_values("id", key=lambda ids: ids.map(order), kind="stable")
    return table.reset_index(drop=True)
