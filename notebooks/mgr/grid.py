"""The MGR chapter's settings and experiment grids, shared by its notebooks so that each is defined once.

MGR's protocol: a share kappa of the samples misses one modality, at train, validation and test alike; the paper
reports mean and std over absence seeds x training seeds (4 x 4). Each (absence seed, training seed) pair is one
run, and one replicate of every claim (``mgr/paper_claims.py``; the tables carry ``mask_seed`` beside ``seed`` and
``mmlib.claims`` pairs on both): the masks come from the absence seed, the initialisation and batches from the
training seed.

| | smoke | quick (2-core CPU) | paper |
|---|---|---|---|
| absence seeds x training seeds | 1 x 1 | 3 x 2 (6 replicates; the library's 5 training seeds are not used) | 4 x 4 (16) |
| backbone | d = 32, 4 tokens per modality | d = 32, 4 tokens | d = 64, 4 tokens |
| epochs (every model on a dataset alike) | 2 (the profile's cap) | MOSI 6, Scene-15 15 | 30 (MGR's recipe) |
| recipe (every model alike; AdamW) | batch 128, lr 2e-3 | batch 128, lr 2e-3 | batch 64, lr 1e-3 |
| Tables 1-2 | MOSI at kappa 0.7 and 1 | MOSI at 0.7 and 1, Scene-15 at 0.7 | MOSI, Scene-15 at 0.7 and 1; AV-MNIST at 0.7 |
| methods in Tables 1-2 | transformer, MAPs, MGR | the same | and dropout and the other chapters' methods |
| lr check: MGR, transformer at lr 1e-4 and the chapter's | Scene-15, kappa 0.7, 1 replicate | the same, 3 | the same, 4 |
| Tables 3-4 | one setting of each | kappa 0.7 | kappa 0.7 and 1 (Table 3) |
| ablations (Tables 5-8, Fig. 4) | MOSI, kappa 0.7 | MOSI, kappa 0.7; L_T up to 2 | every Table 1-2 setting; L_T up to 3 |
| Figure 5 (heterogeneity gap) | MAPs and MGR on MOSI, kappa 0.7 | the same | the same |
| claims not tested | Tables 3-4's (one setting of each is run) | Table 3 at kappa 1 | none |

**One recipe, one budget.** Every model of the chapter (MGR, its variants, MAPs, the transformer, and at ``paper``
dropout and the other chapters' methods) trains under :meth:`Chapter.training`: the same batch, optimiser, learning
rate and schedule (none), patience 8 and the protocol's validation selection, and every model compared on a dataset
the same epochs (:data:`EPOCHS`), so that no model of a comparison has a budget the others lack
(``mmlib.experiment.records`` refuses unequal epochs, patience or selection on one dataset). At ``paper`` the epochs
are MGR's recipe's 30 on every dataset, given explicitly because the other chapters' recipes differ (CMPT 10, MCE
60, which ``records`` would refuse); the batch (64) and lr are MGR's recipe's too, with no schedule (CMPT's recipe
has a warm-up and a poly schedule, which the chapter's one recipe does not give it). At ``smoke`` the profile caps
every model at 2 epochs.

**Why these epochs at quick** (6 everywhere before). Chosen from 15-epoch runs of this recipe (6 replicates of each;
measured once, when this was set: the notebooks recompute each comparison's share on every build). On MOSI, where
nearly all of the chapter's runs are (Tables 1-4, the ablations, Figure 5), the validation score flattens within a
few epochs: of 78 MOSI runs (kappa 0.7 and 1, two absence types, three ablation variants) 12% would have kept their
last epoch at 6 epochs, 8% at 10, under the book's 20%, and their kept validation scores moved by under 1 point from
6 to 10 epochs; on a flat curve the share is about 1/epochs from noise alone. On Scene-15, 83 to 100% of the
transformer, MAPs and MGR runs were still improving at 6 epochs (MGR 50% at 10) and at most 1 in 6 at 15, their kept
validation scores rising by about 3 to 6 points from 6 to 15 epochs. So MOSI keeps 6 epochs and Scene-15 gets the
profile's cap, 15: its 18 Table 1 runs and the learning-rate check add about 2.3 minutes to the chapter's 7.8 at
quick on a 2-core CPU (about 10 in all), where 10 epochs everywhere would have added about 4 and left Scene-15
under-trained, and 15 everywhere about 9 (the book must stay within 45 minutes). Every model compared on a dataset
still gets the same epochs; a table that spans MOSI and Scene-15 compares each model with the others dataset by
dataset.

**Learning rate.** The paper fine-tunes a pre-trained ViLT with AdamW at lr 1e-4; here the backbone is trained from
scratch, at 2e-3 (quick: batches of 128, few epochs) or 1e-3 (paper, MGR's recipe). The choice is checked
(:meth:`Chapter.lr_grid`, shown in ``01_main_tables``): MGR and the transformer at both rates, with the same epochs,
on every dataset of Table 1 at kappa 0.7, judged by :mod:`mmlib.claims`; the notebook says, from the numbers of each
build, whether the chapter's rate is the better one.

Scene-15 (three views) stands in for CMU-MOSEI and UR-FUNNY. AV-MNIST (its image encoder is the costliest) runs
at ``paper`` only, and kappa = 1 is never run on it: with two modalities every sample would have one modality and
nothing to fuse (the paper's note under Table 2). At ``quick`` the training seeds are set to 2 (not the library's
5): 3 absence seeds x 2 training seeds gives 6 replicates per setting, where 3 x 5 would multiply the chapter's
runs by 2.5 on a 2-core CPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from mmlib.experiment import Experiment, records, trained
from mmlib.methods import METHODS
from mmlib.store import under_trained

#: Tables 3 and 4 (CMU-MOSEI in the paper; MOSI here): absence allowed in two, or in one, of the modalities
TWO_ABSENT, ONE_ABSENT = ("video,audio", "video,text", "audio,text"), ("video", "audio", "text")
#: Tables 5-8: MGR variants (options of mmlib.methods.mgr.MGR); "Token" and "MGR" are the default model
INSERTIONS = {"Token": {}, "Summation": dict(insertion="summation"), "MAPs/Attn.": dict(insertion="attention"),
              "MAPs/Input": dict(insertion="input")}
COMPONENTS = {"MGR": {}, "w/o mixed-context": dict(prompt="maps"), "w/o L_div": dict(lambda_div=0.0),
              "w/o h_u": dict(unimodal=False)}
KEEP_RATIOS = (0.25, 0.5, 0.75)  # Figure 4's rho; the default is 0.5

#: the chapter's epochs, every model compared on a dataset alike: smoke, the profile's cap; quick, per dataset (see
#: the module docstring for why); paper, MGR's recipe's (mmlib.methods.maps.MGR_RECIPE) on every dataset
EPOCHS = {"smoke": 2, "quick": {"mosi": 6, "scene15": 15}, "paper": 30}
DATASET_NAMES = {"mosi": "MOSI", "scene15": "Scene-15", "avmnist": "AV-MNIST"}
#: the paper's learning rate (AdamW, fine-tuning a pre-trained ViLT), checked against the chapter's (Chapter.lr_grid)
PAPER_LR = 1e-4
#: where the learning rate is checked: every dataset of Table 1 at this kappa, MGR and the model it builds on, over
#: the absence seeds with the first training seed
LR_CHECK = dict(kappa=0.7, methods=("transformer", "mgr"))


@dataclass(frozen=True)
class Runs:
    """A grid's runs: ``results``, the tidy scores, and ``history``, one row per run and epoch (``epoch``,
    ``val_score``, ``kept``, ``epochs_allowed``...: :attr:`mmlib.store.Record.history`), both with the grid's label
    columns (``mask_seed, kappa, absent_in, variant, lr``); ``history`` also has ``config``, which with ``seed``
    names a run (variants with the same options are one run under several names)."""

    results: pd.DataFrame
    history: pd.DataFrame


@dataclass(frozen=True)
class Chapter:
    """The notebooks' parameters, and what they imply."""

    profile: str = "quick"
    seeds: tuple[int, ...] | None = None  # training seeds; None: the profile's
    device: str = "auto"
    data_dir: str | None = None

    @property
    def absence_seeds(self) -> tuple[int, ...]:
        return {"smoke": (0,), "quick": (0, 1, 2), "paper": (0, 1, 2, 3)}[self.profile]

    @property
    def train_seeds(self) -> tuple[int, ...]:
        if self.seeds is not None:
            return tuple(self.seeds)
        return {"smoke": (0,), "quick": (0, 1), "paper": (0, 1, 2, 3)}[self.profile]

    @property
    def model(self) -> dict:
        """Every method of the chapter gets the same small backbone (4 tokens per modality)."""
        return dict(d_model=64 if self.profile == "paper" else 32, num_tokens=4)

    def epochs(self, dataset: str) -> int:
        """The epochs of every model trained on ``dataset`` at this profile (:data:`EPOCHS`)."""
        epochs = EPOCHS[self.profile]
        return epochs.get(dataset, 15) if isinstance(epochs, dict) else epochs  # a dataset not listed: quick's cap

    @property
    def lr(self) -> float:
        """The chapter's learning rate: MGR's recipe's at paper, twice it at quick (larger batches, fewer epochs);
        checked against the paper's in ``01_main_tables`` (:meth:`lr_grid`)."""
        return 1e-3 if self.profile == "paper" else 2e-3

    def training(self, dataset: str) -> dict:
        """The one recipe of every model the chapter compares on ``dataset``: AdamW (MGR's optimiser) at
        :attr:`lr`, no schedule, patience 8 and the protocol's validation selection, :meth:`epochs` epochs; batches
        of 64 at paper (MGR's recipe), 128 at quick and smoke (the CPU budget)."""
        return dict(epochs=self.epochs(dataset), batch_size=64 if self.profile == "paper" else 128, lr=self.lr,
                    optimizer="adamw", weight_decay=1e-2, scheduler=None, warmup_epochs=0, patience=8,
                    selection="protocol")

    def recipe_text(self) -> str:
        """The recipe in words ("6 epochs on MOSI and 15 on Scene-15, in batches of 128, AdamW at lr 0.002")."""
        epochs = EPOCHS[self.profile]
        if isinstance(epochs, dict):
            parts = [f"{n} on {DATASET_NAMES.get(d, d)}" for d, n in epochs.items()]
            parts[0] = parts[0].replace(" on ", " epochs on ", 1)
            text = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        else:
            text = f"{epochs} epochs"
        return f"{text}, in batches of {self.training('mosi')['batch_size']}, AdamW at lr {self.lr:g}"

    # ---------------------------------------------------------------------------------------------- the grids

    @property
    def main_datasets(self) -> dict[str, tuple[float, ...]]:
        """Tables 1 and 2: the kappas of each dataset."""
        return {"smoke": {"mosi": (0.7, 1)},
                "quick": {"mosi": (0.7, 1), "scene15": (0.7,)},
                "paper": {"mosi": (0.7, 1), "scene15": (0.7, 1), "avmnist": (0.7,)}}[self.profile]

    @property
    def main_methods(self) -> list[str]:
        others = ["dropout"] + [m for m in ("dream", "cmpt", "mce", "mmp") if m in METHODS]
        return ["transformer", "maps", "mgr"] + (others if self.profile == "paper" else [])

    @property
    def absence_settings(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[float, ...]]:
        """Tables 3 and 4: the two-modality and one-modality absence sets, and Table 3's kappas."""
        if self.profile == "smoke":  # one setting of each table: the smoke profile only checks that the code runs
            return TWO_ABSENT[:1], ONE_ABSENT[:1], (0.7,)
        return TWO_ABSENT, ONE_ABSENT, (0.7, 1) if self.profile == "paper" else (0.7,)

    @property
    def refine_layers(self) -> tuple[int, ...]:
        """Figure 4's L_T (default 2); L_T = 0 is no refinement at all (the mean of h_e feeds the classifier)."""
        return (0, 1, 2, 3) if self.profile == "paper" else (0, 1, 2)

    @property
    def ablation_settings(self) -> list[tuple[str, float]]:
        if self.profile == "paper":
            return [("mosi", 0.7), ("mosi", 1), ("scene15", 0.7), ("scene15", 1), ("avmnist", 0.7)]
        return [("mosi", 0.7)]

    def ablation_variants(self) -> dict[str, dict]:
        variants = {**INSERTIONS, **COMPONENTS}
        variants.update({f"L_T={n}": dict(refine_layers=n) for n in self.refine_layers})
        variants.update({f"rho={r:g}": dict(keep_ratio=r) for r in KEEP_RATIOS})
        return variants

    @property
    def lrs(self) -> tuple[float, float]:
        """The learning-rate check's two rates: the chapter's, then the paper's."""
        return self.lr, PAPER_LR

    def main_settings(self) -> list[dict]:
        return [dict(dataset=dataset, method=method, kappa=kappa)
                for dataset, kappas in self.main_datasets.items() for kappa in kappas for method in self.main_methods]

    def absence_settings_list(self) -> list[dict]:
        two, one, kappas = self.absence_settings
        return ([dict(dataset="mosi", method=method, kappa=kappa, absent_in=absent_in)
                 for absent_in in two for kappa in kappas for method in ("maps", "mgr")]
                + [dict(dataset="mosi", method=method, kappa=0.7, absent_in=absent_in)
                   for absent_in in one for method in ("maps", "mgr")])

    def ablation_settings_list(self) -> list[dict]:
        # variants with the same options (Token, MGR, L_T=2, rho=0.5) are one run under several names
        return [dict(dataset=dataset, method="mgr", kappa=kappa, variant=name, options=options)
                for dataset, kappa in self.ablation_settings for name, options in self.ablation_variants().items()]

    def lr_settings(self) -> list[dict]:
        """The learning-rate check: MGR and the transformer it builds on, on every dataset of Table 1 at kappa
        ``LR_CHECK["kappa"]``, over the absence seeds with the first training seed, at the chapter's lr (Table 1's
        own runs, read from the cache) and at the paper's 1e-4. Every dataset, so that where the check is made is not
        chosen after its numbers are seen."""
        return [dict(dataset=dataset, method=method, kappa=LR_CHECK["kappa"], lr=lr, seeds=self.train_seeds[:1])
                for dataset in self.main_datasets for lr in self.lrs for method in LR_CHECK["methods"]]

    def main_grid(self) -> Runs:
        return self.runs(self.main_settings())

    def absence_grid(self) -> Runs:
        return self.runs(self.absence_settings_list())

    def ablation_grid(self) -> Runs:
        return self.runs(self.ablation_settings_list())

    def lr_grid(self) -> Runs:
        return self.runs(self.lr_settings())

    # ------------------------------------------------------------------------------------------------ running

    def experiment(self, dataset: str, method: str, kappa: float, mask_seed: int, absent_in: str | None = None,
                   options: dict | None = None, seeds: tuple[int, ...] | None = None,
                   lr: float | None = None) -> Experiment:
        """One absence seed's runs of ``method`` under prevalence ``kappa``, absence allowed in the modalities
        ``absent_in`` (comma-separated; default all), over the training seeds, under the chapter's recipe (at
        learning rate ``lr`` if given)."""
        protocol = f"kappa:{kappa}" + (f":{absent_in}" if absent_in else "")
        training = self.training(dataset) if lr is None else {**self.training(dataset), "lr": lr}
        return Experiment(dataset, method, seeds=seeds or self.train_seeds, train_protocol=protocol,
                          test_protocols=(protocol,), profile=self.profile,
                          method_options={**self.model, **(options or {})}, train_options=training,
                          device=self.device, data_dir=self.data_dir, mask_seed=mask_seed)

    def experiments(self, settings: list[dict]) -> tuple[list[Experiment], list[dict]]:
        """The experiments of ``settings`` (one per setting and absence seed) and the label of each."""
        experiments, labels = [], []
        for setting in settings:
            setting = {"absent_in": None, "variant": None, "options": None, "lr": None, "seeds": None, **setting}
            for mask_seed in self.absence_seeds:
                experiments.append(self.experiment(setting["dataset"], setting["method"], setting["kappa"], mask_seed,
                                                   setting["absent_in"], setting["options"], setting["seeds"],
                                                   setting["lr"]))
                labels.append(dict(mask_seed=mask_seed, kappa=setting["kappa"],
                                   absent_in=setting["absent_in"] or "all",
                                   variant=setting["variant"] or setting["method"],
                                   lr=setting["lr"] or self.lr))
        return experiments, labels

    def runs(self, settings: list[dict]) -> Runs:
        """Every (absence seed, training seed) run of each setting (``dataset, method, kappa`` and optionally
        ``absent_in, variant, options, lr, seeds``), trained side by side in one call (one budget): the tidy scores and
        the per-epoch histories, with the columns ``mask_seed, kappa, absent_in, variant, lr`` added."""
        experiments, labels = self.experiments(settings)
        got = records(experiments)
        results = pd.concat([record.results.assign(**label) for record, label in zip(got, labels)],
                            ignore_index=True)
        history = pd.concat([record.history.assign(**label, config=experiment.key(0))
                             for record, label, experiment in zip(got, labels, experiments)], ignore_index=True)
        return Runs(results, history)


# ------------------------------------------------------------------------------------- claims and histories

def claim_table(results: pd.DataFrame, condition, method: str = "method") -> pd.DataFrame:
    """The tidy table :func:`mmlib.claims.judge` reads: one row per (run, condition, metric), with the columns
    ``method`` (from the column ``method``, e.g. ``variant``), ``seed``, ``mask_seed`` (the replicate is the pair),
    ``dataset``, ``condition`` (``condition(row)`` for each row) and ``metric``, ``value``. The grid's other
    columns (protocol, kappa, variant...) are left out, so that they do not split the comparison."""
    return pd.DataFrame({"method": results[method].to_numpy(), "seed": results["seed"].to_numpy(),
                         "mask_seed": results["mask_seed"].to_numpy(), "dataset": results["dataset"].to_numpy(),
                         "condition": results.apply(condition, axis=1).to_numpy() if len(results) else [],
                         "metric": results["metric"].to_numpy(), "value": results["value"].to_numpy()})


def unique_runs(history: pd.DataFrame) -> pd.DataFrame:
    """``history`` with each run once (a run shown under several names, as the ablations' default model, counts
    once)."""
    keys = [c for c in ("config", "mask_seed", "dataset", "method", "seed", "epoch") if c in history]
    return history.drop_duplicates(keys)


def claim_history(history: pd.DataFrame, claim, condition, method: str = "method") -> pd.DataFrame:
    """The per-epoch histories of the runs behind ``claim`` (for :func:`mmlib.claims.judge`'s ``history``): its
    method's and comparators' runs (names read from the column ``method``), under its conditions (``condition(row)``,
    as in :func:`claim_table`) and on its datasets, when it names some."""
    history = claim.runs_behind(history, method)
    keep = pd.Series(True, index=history.index)
    if claim.conditions and len(history):
        keep &= history.apply(condition, axis=1).isin(claim.conditions)
    return unique_runs(history[keep])


def _kappa(row) -> str:
    return f"kappa={row.kappa:g}"


def _absence(row) -> str:
    return f"kappa={row.kappa:g}; absent in {row.absent_in}"


def _by_kappa(chapter: Chapter, frame: pd.DataFrame) -> pd.DataFrame:
    """``mgr.kappa_drop``'s view: the datasets run at both kappas, the prevalence as the "method"."""
    both = [d for d, kappas in chapter.main_datasets.items() if {0.7, 1} <= set(kappas)]
    part = frame[frame.dataset.isin(both)]
    return part.assign(kappa_label="kappa=" + part.kappa.map("{:g}".format))


def main_claim_tables(chapter: Chapter, results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tables 1-2's claims (``mgr/paper_claims.py``): the condition is the prevalence (``kappa=0.7``); for
    ``mgr.kappa_drop`` the prevalence is the "method" and the model the condition, on the datasets run at both."""
    table = claim_table(results, _kappa)
    by_kappa = claim_table(_by_kappa(chapter, results), lambda row: row.method, method="kappa_label")
    return {"mgr.table1": table, "mgr.table2": table, "mgr.kappa_drop": by_kappa}


def main_claim_histories(chapter: Chapter, history: pd.DataFrame, claims) -> dict[str, pd.DataFrame]:
    """The histories behind each of Tables 1-2's claims (the runs :func:`main_claim_tables` compares)."""
    out = {}
    for claim in claims:
        if claim.id == "mgr.kappa_drop":
            out[claim.id] = claim_history(_by_kappa(chapter, history), claim, lambda row: row.method,
                                          method="kappa_label")
        else:
            out[claim.id] = claim_history(history, claim, _kappa)
    return out


def absence_claim_table(results: pd.DataFrame) -> pd.DataFrame:
    """Tables 3-4's claims: one condition per (kappa, absence type), named as ``paper_claims.absence_condition``."""
    return claim_table(results, _absence)


def absence_claim_history(history: pd.DataFrame, claim) -> pd.DataFrame:
    return claim_history(history, claim, _absence)


def ablation_claim_table(results: pd.DataFrame) -> pd.DataFrame:
    """Tables 5-8 and Figure 4's claims: the variant is the method, the prevalence the condition."""
    return claim_table(results, _kappa, method="variant")


def ablation_claim_history(history: pd.DataFrame, claim) -> pd.DataFrame:
    return claim_history(history, claim, _kappa, method="variant")


def gap_claim_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """Figure 5's claim: the heterogeneity gap per run (``method, mask_seed, seed, absence, gap``) on MOSI; the
    absence types are the conditions of one run."""
    return pd.DataFrame({"method": gaps["method"], "seed": gaps["seed"], "mask_seed": gaps["mask_seed"],
                         "dataset": "mosi", "condition": gaps["absence"], "metric": "heterogeneity_gap",
                         "value": gaps["gap"]})


# ------------------------------------------------------------------------------------------------ convergence

def under_trained_sentence(history: pd.DataFrame, what: str) -> str:
    """:func:`mmlib.claims.under_trained_sentence`, each run once (:func:`unique_runs`)."""
    from mmlib import claims

    return claims.under_trained_sentence(unique_runs(history), what)


def under_trained_by(history: pd.DataFrame, by: str = "method") -> str:
    """Each ``by`` value's share of runs that kept their last allowed epoch, largest first ("mgr 50%, ...")."""
    runs = unique_runs(history)
    shares = {label: under_trained(part) for label, part in runs.groupby(by, sort=False)}
    return ", ".join(f"{label} {share:.0%}" for label, share in sorted(shares.items(), key=lambda kv: -kv[1]))


# ------------------------------------------------------------------------------------------ learning-rate check

def lr_comparison(runs: Runs, lrs: tuple[float, float]) -> pd.DataFrame:
    """Per dataset and model of the learning-rate check: the test weighted F1 and the kept epoch's validation score
    at each of ``lrs`` (the chapter's, the paper's; means over replicates), the share of runs at their last epoch,
    and the chapter's lr against the paper's judged by :func:`mmlib.claims.compare` (paired on (absence seed,
    training seed); ``verdict``, ``difference``, ``low``, ``high``, ``n``)."""
    from mmlib import claims

    ours, theirs = lrs
    kept = unique_runs(runs.history)
    kept = kept[kept["kept"].astype(bool)]
    rows = []
    for (dataset, method), part in runs.results.groupby(["dataset", "method"], sort=False):
        table = part.assign(method=part.lr.map({ours: "ours", theirs: "paper"})).drop(columns="lr")
        verdict = claims.compare(table, "ours", "paper", metric="f1_weighted")
        f1 = table[table.metric == "f1_weighted"].groupby("method").value.mean()
        runs_kept = kept[(kept.dataset == dataset) & (kept.method == method)]
        rows.append({"dataset": dataset, "model": method, f"test F1 at lr {ours:g}": f1["ours"],
                     f"test F1 at lr {theirs:g}": f1["paper"],
                     **{f"validation at lr {lr:g}": runs_kept[runs_kept.lr == lr].val_score.mean() for lr in lrs},
                     **{f"at last epoch, lr {lr:g}": under_trained(runs_kept[runs_kept.lr == lr]) for lr in lrs},
                     "difference": verdict.mean, "low": verdict.low, "high": verdict.high, "n": verdict.n,
                     "verdict": verdict.verdict})
    return pd.DataFrame(rows).set_index(["dataset", "model"])


def lr_sentence(comparison: pd.DataFrame, lrs: tuple[float, float], epochs: str) -> str:
    """What the learning-rate check says about the chapter's lr, built from :func:`lr_comparison` (the verdicts of
    :mod:`mmlib.claims`: *supported* = the chapter's lr scores higher, *contradicted* = the paper's does)."""
    ours, theirs = lrs
    parts = [f"{model} on {DATASET_NAMES.get(dataset, dataset)}: test F1 {100 * row[f'test F1 at lr {ours:g}']:.1f}% at "
             f"lr {ours:g} against {100 * row[f'test F1 at lr {theirs:g}']:.1f}% at {theirs:g} (difference "
             f"{100 * row['difference']:+.1f} points, "
             + ("no interval" if pd.isna(row['low']) else f"95% interval {100 * row['low']:+.1f} to {100 * row['high']:+.1f}")
             + f", n = {row['n']}; {row[f'at last epoch, lr {theirs:g}']:.0%} of the runs at {theirs:g} kept their last "
             f"epoch)" for (dataset, model), row in comparison.iterrows()]
    worse = [f"{m} on {DATASET_NAMES.get(d, d)}" for (d, m), row in comparison.iterrows() if row.verdict == "contradicted"]
    better = [f"{m} on {DATASET_NAMES.get(d, d)}" for (d, m), row in comparison.iterrows() if row.verdict == "supported"]
    if worse:
        verdict = (f"The paper's lr {theirs:g} scores higher for {', '.join(worse)}: at this profile the check does "
                   f"not support the chapter's lr {ours:g} there")
    elif better:
        verdict = (f"Within the same epochs ({epochs}), the chapter's lr {ours:g} scores higher for "
                   f"{', '.join(better)} and lower for none: this is why the chapter trains at {ours:g}")
    else:
        verdict = (f"These replicates resolve no difference: at this profile the check neither supports nor rules "
                   f"out the chapter's lr {ours:g} against the paper's {theirs:g}")
    return "; ".join(parts) + ". " + verdict + "."


# ------------------------------------------------------------------------------------------------------ helpers

def mean_std(values) -> str:
    """'mean / std' in percent, as the paper prints it."""
    return f"{100 * np.mean(values):.2f} / {100 * np.std(values, ddof=1) if len(values) > 1 else 0:.2f}"


def test_features(experiment: Experiment, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    """One run of Figure 5 (trained, or its weights read from the results cache: :func:`mmlib.experiment.trained`);
    return the classifier's input for the complete test samples and for each single-modality absence
    (``"<modality> absent"``), the test labels, and the run's per-epoch history (:attr:`mmlib.store.Record.history`,
    with ``mask_seed`` and ``config`` added as in :meth:`Chapter.runs`)."""
    method, splits, record = trained(experiment, seed)
    history = record.history.assign(mask_seed=experiment.mask_seed, config=experiment.key(0))
    method.cpu()
    test = splits.test
    names = test.spec.modality_names
    features = {}
    with torch.no_grad():
        for label, drop in {"complete": None, **{f"{name} absent": i for i, name in enumerate(names)}}.items():
            present = test.present.clone()
            if drop is not None:
                present[:, drop] = False
            features[label] = torch.cat([method(b).features for b in test.with_missing(present).batches(512)]).numpy()
    return features, test.y.numpy(), history
