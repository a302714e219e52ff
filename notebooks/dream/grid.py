"""The DREAM chapter's experiment grids, shared by its notebooks so that each grid is defined once.

Every function returns :class:`mmlib.experiment.Experiment` objects (or a table from them); ``run`` reads what an
earlier notebook already trained from the results cache. What each profile runs:

| | smoke | quick (2-core CPU) | paper |
|---|---|---|---|
| epochs (every model of a comparison) | 2 (the profile's cap) | 8 | 30 (DREAM's recipe, appendix A.2) |
| DREAM's backbone pre-training | at most 2 | at most 8 | at most 30 |
| patience, kept epoch | 8, best on validation | 8, best on validation | 8, best on validation |
| DREAM size | d = 16 | d = 32 | d = 200 (appendix A.2) |
| size of the other models (DREAM's backbone included) | their defaults | d = 32, as DREAM | their defaults (d = 64) |
| DREAM lr, batch | 1e-3, 64 | 1e-3, 64 | 1e-4, 32 (appendix A.2) |
| batch of the other models | their recipes' | 64, as DREAM's | their recipes' |
| Table 1's models besides DREAM | baselines, other chapters' methods | baselines | baselines, other chapters' methods |
| intra-modal datasets | AVLetters, AV-MNIST (MCE's 1,500 pairs) | AVLetters | AVLetters, AV-MNIST (2,700 pairs), MOSI |
| methods in Figure 3 | DREAM, dropout | DREAM, the baselines, the other chapters' methods | the same |
| frame ratios | 0, 0.6 | 0, 0.9 | 0, 0.1, ..., 0.9 |
| heterogeneous eta (Fig. 4) | 0.6 | 0.6 | 0.1, 0.3, 0.5, 0.7 |
| heterogeneous eta (Fig. 5) | 0.6 | 0.6 | 0.1, 0.3, 0.5, 0.7 |

**One budget per comparison.** Every model of a table, figure or claim trains under the same epoch cap, patience
and selection rule (:func:`mmlib.experiment.budget`; :func:`labelled` refuses a grid that breaks this before
training anything). At ``paper`` that cap is DREAM's recipe, 30 epochs, given explicitly to every model: Table 1
also holds other chapters' methods whose recipes differ (CMPT 10 epochs, MCE 60), and the comparison is DREAM's.
DREAM alone also pre-trains its frozen backbone (the ``dropout`` network, with its own recipe) for at most as many
epochs as DREAM's own cap before training its modules: notebook 01 states both counts. No baseline gets more epochs
than the profile allows to make up for it.

The quick profile is sized for a 2-core CPU: every model trains 8 epochs instead of 30 (the profile would allow 15);
DREAM's learning rate is raised from 1e-4 to 1e-3, the baselines' (at 1e-4 an 8-epoch DREAM has not converged), and
every model trains with batches of 64, the baselines' own (DREAM's recipe has 32, CMPT's 8, MCE's 128), so that every
model of a comparison makes the same number of updates and CMPT's eightfold steps do not take most of the CPU; every
model is 32 wide, as DREAM (the other chapters use that size at quick too; their default, 64, made Figure 3's runs
much slower on the 2-core CPU), DREAM's backbone included, so that it stays the twin of the dropout baseline; Table 1
compares DREAM with the book's baselines, which stand in for the paper's competitors, and leaves the other chapters'
methods to smoke and paper (on MOSI their runs take most of Table 1's training time at quick, one run at
a time on the 2-core CPU: ``python -m mmlib bench training`` times each method; their claim rows say "not run at this
profile"); Figure 3 has two ratios, 0 and 0.9 (above 0.5, where the
paper's claim lies), on AVLetters alone, for DREAM, the baselines and the other chapters' methods: eight models at every ratio of
the profile; a third ratio (0.6) adds 40 runs, more than the chapter's 8 minutes on the 2-core CPU leave room for
(AV-MNIST joins at smoke, to keep its code tested, and at paper with MOSI); Figure 4 runs one rate, 0.6, where
`paper` runs four. Seeds are the profile's (5 at quick, 10 at paper): breadth was kept small so that every
claim has its replicates. Whether 8 epochs are enough is measured, not assumed: each notebook reports the share of
runs whose kept epoch was the last one allowed (:func:`mmlib.store.under_trained`), and each claim row says when
that share is above one in five.

The claims are declared in ``paper_claims.py`` and judged by :mod:`mmlib.claims`; :func:`tidy` builds their tables.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mmlib import claims
from mmlib.experiment import Experiment, check_budgets, records
from mmlib.methods import METHODS
from mmlib.store import Record
from mmlib.train import TrainConfig, fit, predict

from . import paper_claims

BASELINES = paper_claims.TABLE1_BASELINES
#: other chapters' methods join the comparison when they exist in mmlib
OTHER_METHODS = tuple(name for name in paper_claims.OTHER_CHAPTERS if name in METHODS)
#: Figure 3's models at quick and paper: DREAM, the baselines and the other chapters' methods (all of them take frames)
FIGURE3_MODELS = ("DREAM",) + BASELINES + OTHER_METHODS
#: DREAM's own epochs (appendix A.2): the cap of every model compared at ``paper``
PAPER_EPOCHS = METHODS["dream"].recipe.epochs
#: Figure 4's models (DREAM, its two ablations, two baselines for reference) and Figure 5's (DREAM's backbones)
ABLATIONS = ("DREAM", "w/o dynamic enhancement", "w/o MMFM")
REFERENCES = ("dropout", "concat")
BACKBONES = ("backbone: dropout (default)", "backbone: dropout, 1 epoch", "backbone: transformer",
             "backbone: MLP (concat)")


@dataclass(frozen=True)
class Settings:
    training: dict  # training options of every method (the epochs: one cap for every model compared)
    model_options: dict  # constructor options of every model but DREAM, and of DREAM's backbone
    dream_options: dict
    dream_training: dict  # DREAM's, on top of ``training``
    table1_methods: tuple[str, ...]  # Table 1's models besides DREAM's variants
    intra_datasets: tuple[str, ...]
    intra_methods: tuple[str, ...]
    frame_ratios: tuple[float, ...]
    etas: tuple[float, ...]
    backbone_etas: tuple[float, ...]


def settings(profile: str) -> Settings:
    if profile == "paper":
        etas = (0.1, 0.3, 0.5, 0.7)
        # DREAM's recipe epochs for every model: the recipes of Table 1's other methods differ (CMPT 10, MCE 60)
        return Settings({"epochs": PAPER_EPOCHS}, {}, {"d_model": 200}, {}, BASELINES + OTHER_METHODS,
                        ("avletters", "avmnist", "mosi"),
                        FIGURE3_MODELS, tuple(round(0.1 * i, 1) for i in range(10)), etas, etas)
    if profile == "quick":
        return Settings({"epochs": 8, "batch_size": 64}, {"d_model": 32}, {"d_model": 32}, {"lr": 1e-3}, BASELINES,
                        ("avletters",), FIGURE3_MODELS, (0.0, 0.9), (0.6,), (0.6,))
    # smoke: the profile caps every model at 2 epochs
    return Settings({}, {}, {"d_model": 16}, {"lr": 1e-3, "batch_size": 64}, BASELINES + OTHER_METHODS,
                    ("avletters", "avmnist_mce"),
                    ("DREAM", "dropout"), (0.0, 0.6), (0.6,), (0.6,))


#: DREAM's variants, by the label the chapter gives them: constructor options on top of the profile's
VARIANTS = {
    "DREAM": {},
    "DREAM + modality dropout": {"modality_dropout": 0.5},
    "w/o dynamic enhancement": {"dynamic_enhancement": False},
    "w/o MMFM": {"masked_fusion": False},
    "backbone: dropout (default)": {},
    "backbone: dropout, 1 epoch": {"backbone_epochs": 1},
    "backbone: transformer": {"backbone": "transformer", "backbone_dropout": 0.5},
    "backbone: MLP (concat)": {"backbone": "concat"},
}


def dream(dataset: str, variant: str, common: dict) -> Experiment:
    chosen = settings(common["profile"])
    options = {**chosen.dream_options, **VARIANTS[variant]}
    if chosen.model_options:  # the backbone is built like the other models (the dropout baseline is its twin)
        options["backbone_options"] = dict(chosen.model_options)
    training = {**chosen.training, **chosen.dream_training}
    return Experiment(dataset, "dream", method_options=options, train_options=training, **common)


def baseline(dataset: str, method: str, common: dict) -> Experiment:
    chosen = settings(common["profile"])
    return Experiment(dataset, method, method_options=dict(chosen.model_options), train_options=dict(chosen.training),
                      **common)


def labelled(experiments: dict[str, list[Experiment]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every experiment (or read it from the cache), all side by side: the tidy results and the per-epoch
    histories (:attr:`mmlib.store.Record.history`, one row per run and epoch), each with a column ``model`` carrying
    the label; the histories also carry the run's ``train_protocol`` ("none" for complete training data) and ``run``,
    its results-cache key (two labels of one configuration share a run).

    The whole grid is one comparison: its budgets are checked first (:func:`mmlib.experiment.check_budgets`), so a failure below never
    lets a model train under another budget. Another chapter's method (``OTHER_METHODS``) that fails here is
    reported and left out rather than stopping this chapter: its own chapter is where it is tested."""
    check_budgets(experiment for group in experiments.values() for experiment in group)
    try:
        runs = _records(experiments)
    except Exception:
        others = [label for label in experiments if label in OTHER_METHODS]
        if not others:
            raise
        # find what failed: this chapter's own labels together (their failure stops it), then each other method alone
        runs = _records({label: group for label, group in experiments.items() if label not in OTHER_METHODS})
        for label in others:
            try:
                runs.update(_records({label: experiments[label]}))
            except Exception as error:  # noqa: BLE001
                print(f"{label} left out of this comparison: {type(error).__name__}: {error}")
    labels = [label for label in experiments if label in runs]
    results = pd.concat([runs[label].results.assign(model=label) for label in labels], ignore_index=True)
    history = pd.concat([runs[label].history.assign(model=label) for label in labels], ignore_index=True)
    return results, history


def _records(experiments: dict[str, list[Experiment]]) -> dict[str, Record]:
    """One :class:`~mmlib.store.Record` per label, from one :func:`~mmlib.experiment.records` call over every
    label's experiments (each experiment's history tagged with its training protocol)."""
    flat = [experiment for group in experiments.values() for experiment in group]
    found = iter(records(flat))
    tagged = {}
    for label, group in experiments.items():
        parts = []
        for experiment in group:
            record = next(found)
            history = record.history.assign(train_protocol=experiment.train_protocol or "none",
                                            run=record.history["seed"].map(lambda seed: experiment.key(int(seed))))
            parts.append(Record(record.results, history, record.classes))
        tagged[label] = Record.concat(parts)
    return tagged


def under_trained_sentence(history: pd.DataFrame, what: str) -> str:
    """:func:`mmlib.claims.under_trained_sentence`, a run shared by two labels counted once."""
    if "run" in history.columns:
        history = history.drop_duplicates(["run", "epoch"])
    return claims.under_trained_sentence(history, what)


def common_options(profile: str, seeds, device: str, data_dir) -> dict:
    return {"profile": profile, "seeds": None if seeds is None else tuple(seeds), "device": device,
            "data_dir": data_dir}


def inter_modal(datasets: tuple[str, ...], common: dict) -> dict[str, list[Experiment]]:
    """Table 1: trained on the complete training split, scored on every subset of the test split. The other
    chapters' methods join at smoke and paper (``Settings.table1_methods``)."""
    methods = settings(common["profile"]).table1_methods
    grid = {method: [baseline(d, method, common) for d in datasets] for method in methods}
    for variant in ("DREAM", "DREAM + modality dropout"):
        grid[variant] = [dream(d, variant, common) for d in datasets]
    return grid


def intra_modal(common: dict) -> dict[str, list[Experiment]]:
    """Figure 3: frames masked at ratio r at train and test. Ratio 0 is the complete-data run of Table 1, whose
    complete-modality condition is the r = 0 point."""
    chosen = settings(common["profile"])
    grid: dict[str, list[Experiment]] = {}
    for label in chosen.intra_methods:
        experiments = []
        for dataset in chosen.intra_datasets:
            for ratio in chosen.frame_ratios:
                protocol = None if ratio == 0 else f"frames:{ratio:g}"
                tests = ("subsets",) if ratio == 0 else (f"frames:{ratio:g}",)
                if label == "DREAM":
                    experiment = dream(dataset, label, common)
                else:
                    experiment = baseline(dataset, label, common)
                experiments.append(replace(experiment, train_protocol=protocol, test_protocols=tests))
        grid[label] = experiments
    return grid


#: a modality missing at test after training on complete data, on a two-modality set (CUB: image and text, ten
#: classes): DREAM, its variants and the two baselines nearest its backbone, under one budget
PROBE_DATASET = "cub"
PROBE_MODELS = ("concat", "dropout", "DREAM", "w/o dynamic enhancement", "DREAM + modality dropout")
NO_ENHANCEMENT = "DREAM, no enhancement at test"


def missing_at_test(common: dict) -> dict[str, list[Experiment]]:
    """The probe's models, trained on CUB's complete training split, scored on every subset of its test split."""
    return {label: [dream(PROBE_DATASET, label, common) if label in VARIANTS else baseline(PROBE_DATASET, label, common)]
            for label in PROBE_MODELS}


def without_enhancement(experiment: Experiment, seed: int) -> pd.DataFrame:
    """The trained DREAM of a run scored like the run (its test protocols, its mask seed) with the enhancement
    switched off at test only (D = 0: every modality keeps its encoder's tokens): rows of
    ``seed, dataset, protocol, condition, metric, value``."""
    from torch import nn

    from mmlib.experiment import trained

    method, splits, _ = trained(experiment, seed)
    method.enhance = nn.ModuleList()
    return pd.DataFrame(scored_like_run(method, splits, experiment, seed)).assign(seed=seed, dataset=experiment.dataset)


def scored_like_run(model, splits, experiment: Experiment, seed: int) -> list[dict]:
    """Rows of :func:`mmlib.evaluate.evaluate` for ``model`` on the run's test split, under each of the experiment's
    test protocols with the run's mask seed: a model other than the run's scored as the run was."""
    from mmlib.evaluate import evaluate
    from mmlib.missing import parse_protocol

    mask_seed = seed if experiment.mask_seed is None else experiment.mask_seed
    return [row for protocol in experiment.test_protocols
            for row in evaluate(model, splits.test, parse_protocol(protocol, splits.spec), seed=mask_seed,
                                device=next(model.parameters()).device)]


def pss_zero_share(experiment: Experiment, seed: int) -> pd.Series:
    """Per modality, the share of the (complete) training samples whose PSS is zero under the run's trained
    DREAM: the samples on which the enhancement of that modality trains (section 3.4)."""
    import torch

    from mmlib.experiment import trained

    method, splits, _ = trained(experiment, seed)
    device = next(method.parameters()).device
    zero = []
    with torch.no_grad():
        for batch in splits.train.batches(512):
            pss, _, _ = method.scores(batch.to(device), with_accuracy=False)
            zero.append((pss == 0).cpu())
    return pd.Series(torch.cat(zero).float().mean(0).numpy(), index=list(splits.spec.modality_names))


def figures_4_5(common: dict) -> tuple[dict[str, list[Experiment]], dict[str, list[Experiment]]]:
    """Figure 4's grid (DREAM, its ablations and two baselines) and Figure 5's (DREAM on each backbone), one
    comparison on MOSI under heterogeneous missingness."""
    chosen = settings(common["profile"])
    return (heterogeneous(ABLATIONS + REFERENCES, chosen.etas, common),
            heterogeneous(BACKBONES, chosen.backbone_etas, common))


def table2(common: dict) -> dict[str, Experiment]:
    """Table 2's models on MOSI (complete training data), timed one by one under one budget."""
    return {**{name: baseline("mosi", name, common) for name in BASELINES}, "DREAM": dream("mosi", "DREAM", common)}


def timed(function):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def test_pass(method, dataset, device) -> float:
    """The median of three timed passes over ``dataset`` (after one untimed pass)."""
    predict(method, dataset, device=device)  # warm-up
    return statistics.median(timed(lambda: predict(method, dataset, device=device))[0] for _ in range(3))


def time_table2(table2_grid: dict[str, Experiment], seed_list, device) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 2's timings (a row per model and seed: training and test seconds, epochs) and the timed runs'
    histories (DREAM's own training, not its backbone's). Within a seed the models train one after the other.

    DREAM's backbone is pre-trained inside the timing, in a fresh, private cache (never read back from an earlier
    notebook's): its row "pre-trained (backbone)" is that training, and DREAM's time is it plus DREAM's own
    training, as the paper's "overall running time". ``backbone trained`` says whether :meth:`DREAM.prepare` did
    train it (:attr:`mmlib.methods.dream.DREAM.pretrained_here`); a timing that would have read it back raises."""
    import tempfile
    from unittest import mock

    from mmlib.experiment import build_method
    from mmlib.methods import make_method
    from mmlib.methods.dream import BlindBackbone

    first, splits, _ = build_method(table2_grid["DREAM"], seed_list[0])
    # one untimed epoch first, so that no model pays for the process's first steps (lazy initialisation, caches)
    fit(make_method("concat", splits.spec), splits.train, None, TrainConfig(epochs=1, progress=False))
    timing, fits = [], []
    with tempfile.TemporaryDirectory() as fresh, mock.patch.dict(os.environ, {"MMLIB_CACHE": fresh}):
        for seed in seed_list:
            for name in BASELINES:
                method, splits, config = build_method(table2_grid[name], seed)
                seconds, history = timed(lambda: fit(method, splits.train, splits.val, config))
                timing.append({"model": name, "seed": seed, "train (s)": seconds, "epochs": len(history),
                               "test (s)": test_pass(method, splits.test, device)})
                fits.append(pd.DataFrame(history).assign(model=name, dataset=table2_grid[name].dataset, seed=seed,
                                                         epochs_allowed=config.epochs))
            method, splits, config = build_method(table2_grid["DREAM"], seed)
            method.to(device)
            pretrain, _ = timed(lambda: method.prepare(splits.train, splits.val, config))
            if not method.pretrained_here:
                raise RuntimeError("Table 2's timing read DREAM's backbone back instead of training it")
            # fit() calls prepare() again, which keeps the backbone pre-trained above
            seconds, history = timed(lambda: fit(method, splits.train, splits.val, config))
            backbone_alone = BlindBackbone(method.backbone, "zero-fill").eval()
            timing.append({"model": "pre-trained (backbone)", "seed": seed, "train (s)": pretrain,
                           "epochs": np.nan, "test (s)": test_pass(backbone_alone, splits.test, device),
                           "backbone trained": True})
            timing.append({"model": "DREAM", "seed": seed, "train (s)": pretrain + seconds,
                           "epochs": len(history), "test (s)": test_pass(method, splits.test, device),
                           "backbone trained": True})
            fits.append(pd.DataFrame(history).assign(model="DREAM", dataset=table2_grid["DREAM"].dataset,
                                                     seed=seed, epochs_allowed=config.epochs))
    return pd.DataFrame(timing), pd.concat(fits, ignore_index=True)


def heterogeneous(labels: tuple[str, ...], etas: tuple[float, ...], common: dict, dataset: str = "mosi"
                  ) -> dict[str, list[Experiment]]:
    """Figures 4 and 5: the heterogeneous missingness of appendix A.4 at each eta, at train and test."""
    grid = {}
    for label in labels:
        experiments = []
        for eta in etas:
            experiment = dream(dataset, label, common) if label in VARIANTS else baseline(dataset, label, common)
            experiments.append(replace(experiment, train_protocol=f"heterogeneous:{eta:g}",
                                       test_protocols=(f"heterogeneous:{eta:g}",)))
        grid[label] = experiments
    return grid


# ------------------------------------------------------------------------------------------------ tables and claims

def mean_std(values, scale: float = 100.0, digits: int = 1) -> str:
    """'mean ± std' of per-seed values, in percent by default."""
    values = pd.Series(values, dtype=float) * scale
    std = values.std() if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


def claim(claim_id: str):
    """The declared claim (``paper_claims.CLAIMS``) with this id: every verdict of the chapter comes from
    :func:`mmlib.claims.judge` on it."""
    for declared in paper_claims.CLAIMS:
        if declared.id == claim_id:
            return declared
    raise KeyError(f"no claim {claim_id!r} in paper_claims.py")


def tidy(table: pd.DataFrame, metric: str | None = None, **columns) -> pd.DataFrame:
    """A claims table (``method, seed, dataset, condition, metric, value``) from a chapter table whose column
    ``model`` carries the labels; ``columns`` set or replace columns (a value, or a function of the table, as in
    :meth:`pandas.DataFrame.assign`)."""
    table = table.reset_index(drop=True).assign(method=lambda t: t["model"], **columns)
    if metric is not None:
        table = table.assign(metric=metric)
    return table[["method", "seed", "dataset", "condition", "metric", "value"]].reset_index(drop=True)


def pretrained_backbone(experiment: Experiment, seed: int):
    """The frozen backbone of a DREAM experiment's run (:func:`mmlib.experiment.trained`: read back once the run
    is trained), wrapped so that it predicts blind like DREAM sees the data; and the experiment's splits."""
    from mmlib.experiment import trained
    from mmlib.methods.dream import BlindBackbone

    method, splits, _ = trained(experiment, seed)
    return BlindBackbone(method.backbone, method.scores.coalitions).eval(), splits
