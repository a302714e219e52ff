"""The MCE chapter's settings, shared by its notebooks so that each is defined once: the backbone, the recipe and
the one training budget of every comparison, the grids of runs each notebook hands to
:func:`mmlib.experiment.records` in one call (built here so that their budgets can be checked without training),
and the per-run work of the notebooks that look inside trained models or record their training (run side by side
with :func:`mmlib.experiment.map_in_workers`, which needs functions defined in a module). A rebuild trains nothing:
the trained models are read back (:func:`mmlib.experiment.trained`), the recordings kept
(:func:`mmlib.trained.compute_once`).

| | smoke | quick (2-core CPU) | paper |
|---|---|---|---|
| seeds | 0 | 0-4 (the profile's) | 0-9 (the paper's 10 runs) |
| backbone | d = 32 | d = 32 | d = 32 |
| epochs, every model compared | 2 (smoke's cap) | 8 (the CPU budget; quick allows 15) | 60 (MCE's recipe, for all) |
| patience, kept epoch | 8; the best validation epoch under the training protocol | the same | the same |
| optimiser | Adam, lr 1e-3, batch 128 (MCE's recipe) | the same | the same |
| frozen unimodal models of Eq. 6 (MCE with B only) | 5 epochs each | 5 epochs each | 10 each (the method's default) |

**One budget per comparison.** Every model of every comparison of the chapter (MCE, `concat`, `dropout`, MMIN, the
ablation rows, the lambda settings, and at `paper` the book's other methods of the main tables) gets the same
``train_options`` (:attr:`Chapter.training`), so the same epochs, patience and selection rule
(:func:`mmlib.experiment.budget`). At `paper` the epochs are given explicitly as MCE's recipe's 60: the other
methods' recipes say 30 (CMPT's 10), and :func:`mmlib.experiment.records` refuses to compare models trained under
different budgets. Patience (8) and selection (the epoch with the best validation score under the training
protocol) are the library's, the same for every method. The runs that several notebooks need (the default MCE run
on MOSI at ordering a, the concatenation backbone) are trained once and read from the results cache.

**MCE's frozen unimodal models (Eq. 6)** are part of MCE's method, not a comparator's head start, but they are
training that MCE gets on top of the shared budget: before its own epochs, MCE (with the factor B on) trains one
single-modality model per modality, ``unimodal_epochs`` epochs on the training samples that have that modality,
without validation or early stopping, then freezes it. They never predict: they only set the weight B of Eq. 8.
The rows with B off (Table 2's rows a-i, MCE without B) do not train them. :meth:`Chapter.unimodal_training`
computes their size: on MOSI at ordering a, at `quick`, 3 models x 5 epochs = 15 unimodal epochs, 7.5 passes
over the training split's single-modality data (5 x (0.8 + 0.5 + 0.2)), beside the 8 epochs of the multimodal
model; at `smoke` their 5 epochs exceed the profile's cap of 2 (the cap is on the compared models' epochs). In
04_representations they are also Fig. 9's "unimodal upper bound", the one comparator that does not share MCE's
budget (fewer epochs at `quick` and `paper`, no kept-epoch selection): its claim says so.

**The CPU budget at quick** (issue 17). Measured as CPU seconds (user + sys, ``/usr/bin/time`` around papermill) of
each notebook at quick from an empty results cache, one worker (``MMLIB_WORKERS=1``), the notebooks in order
sharing one cache, on the project's 2-core CPU while other jobs ran (so an upper side): before MMIN, 836 s (01: 303,
02: 88, 03: 63, 04: 34, 05: 347), about 10.7 minutes at the 1.3x two workers give over one. MMIN (the authors' form,
about 3.4 s a run on MOSI) was added and the quick grids cut where a run feeds no claim or repeats a setting, never
in the profile's seeds: MOSI's orderings a-f to the Latin square a, d, e (:data:`QUICK_ORDERINGS`), Scene-15's a and f
to a, AudiovisionMNIST's rates 0.2, 0.5, 0.8 to 0.5, MMIN on MOSI only (:meth:`Chapter.methods_on`); in 05, Fig. 4's
sweep to 0.1 and 5 (:data:`SWEEP`; 1 and 2 were the defaults of two weights, 0.001 and 20 feed no claim but the
best-other choice) and Fig. 5's heatmap from 3 x 3 to its 2 x 2 corners (:data:`HEATMAP`). Measured after the cuts:
01: 234 s; 05: 188 s from its own empty cache (so with the 10 reference runs 01 would have cached; 224 s before
0.001 and 20 left quick); 02-04 unchanged (185 s: their grids did not change). In all about 607 s, about 7.8 minutes
of wall time on an idle 2-core CPU: still above the 7 minutes aimed at. Runs left at quick that feed no claim, each
shown for a reason (estimated from single-run timings): Fig. 5's heatmap (about 24 s; it only widens the best-other
choice), Fig. 7's image-only model (about 11 s) and 03's MCE trained with the code's Shapley values (about 14 s).
Beyond those, what would close the gap costs a claim at quick: Scene-15 at paper only (about 39 s,
mce.table3_scene15 not tested), AudiovisionMNIST at paper only (about 60 s, mce.fig7_avmnist), MOSI at two
orderings (about 35 s).
"""
from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from mmlib.evaluate import linear_probe
from mmlib.experiment import PROFILES, Experiment, build_method, prepared_splits, train_method, trained, \
    training_config, validation_sets
from mmlib.methods import METHODS
from mmlib.methods.mce import code_variant_shapley, learning_state_factor
from mmlib.methods.mmin import MCE_CODE
from mmlib.missing import parse_protocol
from mmlib.train import fit
from mmlib.trained import compute_once

#: ordering a of the paper's missing rates over (A, L, V) = (audio, text, video) on MOSI
PROTOCOL = "rates:audio=0.2,text=0.5,video=0.8"
#: the same ordering over Scene-15's three views (01_main_tables' Table 3 stand-in)
SCENE15_PROTOCOL = "rates:gist=0.2,phog=0.5,lbp=0.8"
#: Table 2's row a as MCE's options: the backbone with the reconstruction module of Eq. 15, no MCE loss or factor
ROW_A = {"use_a": False, "use_b": False, "lambda_single": 0.0, "lambda_sub": 0.0, "lambda_aux": 0.0}

#: every compared model's epochs per profile: smoke's cap; 8 at quick (the CPU budget); MCE's recipe at paper, given
#: to every model (the other methods' recipes say 30, CMPT's 10)
EPOCHS = {"smoke": PROFILES["smoke"].max_epochs, "quick": 8, "paper": METHODS["mce"].recipe.epochs}

# ------------------------------------------------------------------------------ 01: the main tables' grid

#: the paper's orderings a-f of the rates (0.2, 0.5, 0.8) over (A, L, V) = (audio, text, video) on MOSI
ORDERINGS = {"a": (0.2, 0.5, 0.8), "b": (0.2, 0.8, 0.5), "c": (0.5, 0.2, 0.8),
             "d": (0.5, 0.8, 0.2), "e": (0.8, 0.2, 0.5), "f": (0.8, 0.5, 0.2)}
#: at quick, MOSI's cyclic orderings a, d, e: a Latin square, each modality at each rate once (the CPU budget)
QUICK_ORDERINGS = ("a", "d", "e")
#: Tables 3-4's stand-ins, each modality group taking one rate of an ordering (BraTS' T1 and T1c share one)
GROUPS = {"scene15": (("gist",), ("phog",), ("lbp",)), "mfeat": (("pix", "kar"), ("fou", "zer"), ("fac", "mor"))}
#: Fig. 7's "Image Only" reference, a model trained on the images alone: the backbone with every audio missing
IMAGE_ONLY = "image-only model"
#: at paper, also the book's other methods (left out at quick to keep the chapter within its CPU budget)
OTHERS = tuple(m for m in ("transformer", "dream", "cmpt", "mgr", "mmp") if m in METHODS)
#: MMIN (:mod:`mmlib.methods.mmin`), the comparator of the paper's Table 5, in its two forms, label: options. "mmin
#: (MCE code)" is what the MCE authors ran for Table 5 (:data:`mmlib.methods.mmin.MCE_CODE`: no teacher, no forward
#: imagination loss, the data's own missing pattern; L_CE + 2 L_cycle), the comparator whose numbers the paper
#: prints; "mmin" is MMIN as its own paper trains it (a pre-trained teacher, forward and cycle losses, every missing
#: condition), which costs a teacher's training on top, so it runs at paper only. At smoke and quick MMIN runs on
#: MOSI only (Table 5's stand-in, the one table with MMIN's numbers); at paper on every dataset.
MMIN_FORMS = {"mmin (MCE code)": dict(MCE_CODE), "mmin": {}}
MAIN_METHODS = {"smoke": ("concat", "mmin (MCE code)", "mce"), "quick": ("concat", "dropout", "mmin (MCE code)", "mce"),
                "paper": ("concat", "dropout") + OTHERS + tuple(MMIN_FORMS) + ("mce",)}

# ------------------------------------------------------------------------------------ 02: Table 2's rows

#: Table 2's rows: which of A, B, L_single, L_sub, L_aux are on
ABLATION_ROWS = {"a": "", "b": "single", "c": "sub", "d": "aux", "e": "single+sub", "f": "single+aux",
                 "g": "sub+aux", "h": "single+sub+aux", "i": "A+single+sub+aux", "j/m": "A+B+single+sub+aux",
                 "k": "A+B+single", "l": "A+B+aux"}
#: at quick the three two-loss rows e-g are left out (the CPU budget of 5 seeds per row)
ABLATION_KEEP = {"smoke": ("a", "j/m"), "quick": ("a", "b", "c", "d", "h", "i", "j/m", "k", "l"),
                 "paper": tuple(ABLATION_ROWS)}

# ------------------------------------------------------------------------------ 05: the loss-weight grids

DEFAULT = {"lambda_single": 1.0, "lambda_sub": 2.0, "lambda_aux": 1.0}
#: at quick only the values of the 'stable' claim's range other than the defaults (the CPU budget): 0.001 and 20, which
#: feed no claim but the choice of the best other setting, run at paper (Fig. 6's trainings at those settings run at
#: every profile, in 05's dynamics)
SWEEP = {"smoke": (0.1, 20), "quick": (0.1, 5), "paper": (0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 20)}
#: the range of the 'stable' claim (mce.fig4_stable): a swept value outside it feeds no claim but the choice of the
#: best other setting, made on the selection seeds, so outside paper it runs on those seeds only
STABLE_RANGE = (0.1, 5.0)
HEATMAP = {"smoke": (2,), "quick": (0.5, 8), "paper": (0.1, 0.5, 1, 2, 5, 10)}
# Fig. 4's datasets, every training seed of the profile; at quick MOSI only (the CPU budget of 5 seeds), at paper
# Scene-15 (ordering a over its three views) and AudiovisionMNIST (audio missing at 0.5) too
SWEEP_DATASETS = {"smoke": {"mosi": PROTOCOL}, "quick": {"mosi": PROTOCOL},
                  "paper": {"mosi": PROTOCOL, "scene15": SCENE15_PROTOCOL, "avmnist_mce": "rates:audio=0.5"}}
#: label: (MCE's options, log every step (Fig. 6), probe the encoders after each epoch (Fig. 8))
DYNAMICS = {
    "(1, 2, 1), full MCE": ({}, True, True),
    "(1, 2, 20)": ({"lambda_aux": 20.0}, True, False),
    "(0.001, 2, 1)": ({"lambda_single": 0.001}, True, False),
    "MCE without B": ({"use_b": False}, False, True),
    "backbone with f_rec (row a)": (ROW_A, False, True),
}
DYNAMICS_SMOKE = ("(1, 2, 1), full MCE", "(1, 2, 20)", "MCE without B")


def rates_protocol(groups, rates) -> str:
    """``rates:...`` giving each group of modalities (a name, or a tuple of names) its rate."""
    named = [(name, rate) for group, rate in zip(groups, rates)
             for name in ((group,) if isinstance(group, str) else group)]
    return "rates:" + ",".join(f"{n}={r:g}" for n, r in named)


def ablation_options(components: str) -> dict:
    """MCE's options for a row of Table 2 (``"A+B+single"``: which factors and losses are on)."""
    parts = set(components.split("+")) - {""}
    return {"use_a": "A" in parts, "use_b": "B" in parts,
            "lambda_single": 1.0 if "single" in parts else 0.0, "lambda_sub": 2.0 if "sub" in parts else 0.0,
            "lambda_aux": 1.0 if "aux" in parts else 0.0}


@dataclass(frozen=True)
class Chapter:
    """The notebooks' parameters, and what they imply."""

    profile: str = "quick"
    seeds: tuple[int, ...] | None = None  # None: the profile's seeds
    device: str = "auto"
    data_dir: str | None = None

    @property
    def model(self) -> dict:
        return dict(d_model=32)

    @property
    def epochs(self) -> int:
        """The epochs of every model compared, at this profile (:data:`EPOCHS`)."""
        return EPOCHS[self.profile]

    @property
    def training(self) -> dict:
        """Every model's ``train_options``: one budget for every comparison (patience and selection are the
        library's, the same for every method)."""
        return {"epochs": self.epochs, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"}

    @property
    def mce_options(self) -> dict:
        """At smoke and quick, 5 epochs for each frozen unimodal model of Eq. 6 (the CPU budget)."""
        return dict(unimodal_epochs=5) if self.profile != "paper" else {}

    @property
    def unimodal_epochs(self) -> int:
        """The epochs of each frozen unimodal model of Eq. 6 at this profile (MCE's default at paper)."""
        default = inspect.signature(METHODS["mce"]).parameters["unimodal_epochs"].default
        return self.mce_options.get("unimodal_epochs", default)

    def unimodal_training(self, protocol: str = PROTOCOL) -> dict:
        """The extra training MCE (with B on) gets before its own epochs under a ``rates:`` ``protocol`` that names
        every modality: one unimodal model per modality, each on the training samples that have its modality."""
        rates = [float(part.split("=")[1]) for part in protocol.split(":", 1)[1].split(",")]
        return {"models": len(rates), "epochs each": self.unimodal_epochs,
                "unimodal epochs": len(rates) * self.unimodal_epochs,
                "training-split passes": self.unimodal_epochs * sum(1 - rate for rate in rates),
                "own epochs": self.epochs}

    def experiment(self, method: str = "mce", dataset: str = "mosi", protocol: str = PROTOCOL,
                   seeds: tuple[int, ...] | None = None, **options) -> Experiment:
        """``method`` on ``dataset`` trained (and validated) under the missing-rate ``protocol``, scored on every
        test subset; MCE's own ``options`` on top of the chapter's. ``method`` may be one of MMIN's forms
        (:data:`MMIN_FORMS`): the method ``mmin`` with that form's options."""
        extra = self.mce_options if method == "mce" else MMIN_FORMS.get(method, {})
        method = "mmin" if method in MMIN_FORMS else method
        return Experiment(dataset, method, seeds=tuple(seeds) if seeds is not None else self.training_seeds,
                          train_protocol=protocol, profile=self.profile,
                          method_options={**self.model, **extra, **options}, train_options=self.training,
                          device=self.device, data_dir=self.data_dir)

    @property
    def training_seeds(self) -> tuple[int, ...] | None:
        """The seeds asked for, else the paper's 10 at ``paper`` and the profile's otherwise (None: 5 at quick, 1 at
        smoke; :data:`mmlib.experiment.PROFILES`)."""
        if self.seeds is not None:
            return tuple(self.seeds)
        return tuple(range(10)) if self.profile == "paper" else None

    def seed_list(self) -> tuple[int, ...]:
        return self.experiment().seed_list()

    # -------------------------------------------------------------------- the grids, one records() call each

    @property
    def main_methods(self) -> tuple[str, ...]:
        """01: every method of the main tables at this profile (MMIN's forms by their labels, :data:`MMIN_FORMS`)."""
        return MAIN_METHODS[self.profile]

    def methods_on(self, dataset: str) -> tuple[str, ...]:
        """01: the methods run on ``dataset``: all of :attr:`main_methods` at paper; at smoke and quick MMIN on MOSI
        only (the CPU budget; the paper's MMIN numbers are Table 5's)."""
        if self.profile == "paper" or dataset == "mosi":
            return self.main_methods
        return tuple(m for m in self.main_methods if m not in MMIN_FORMS)

    @property
    def orderings(self) -> dict:
        """01: the orderings run on MOSI: all six at paper; at quick the three cyclic ones a, d, e, a Latin square
        (each modality takes each rate once: audio 0.2, 0.5, 0.8; text 0.5, 0.8, 0.2; video 0.8, 0.2, 0.5), the
        CPU budget with MMIN added; ordering a at smoke."""
        keep = {"smoke": ("a",), "quick": QUICK_ORDERINGS, "paper": tuple(ORDERINGS)}[self.profile]
        return {label: ORDERINGS[label] for label in keep}

    @property
    def audio_rates(self) -> tuple[float, ...]:
        """01: AudiovisionMNIST's audio missing rates (Fig. 7): 0.2, 0.5 and 0.8 at paper, the middle one 0.5 at
        smoke and quick (the CPU budget: an AudiovisionMNIST run costs about three MOSI runs)."""
        return (0.2, 0.5, 0.8) if self.profile == "paper" else (0.5,)

    @property
    def stand_in_orderings(self) -> dict:
        """01: the orderings of Tables 3-4's stand-ins. At quick, Scene-15 at ordering a only, and mfeat not at all
        (MCE passes over all 63 subsets of 6 views per batch): the CPU budget of 5 seeds per run."""
        return {"smoke": {"scene15": ("a",)}, "quick": {"scene15": ("a",)},
                "paper": {"scene15": tuple(ORDERINGS), "mfeat": tuple(ORDERINGS)}}[self.profile]

    def main_jobs(self) -> list[tuple[str, str, Experiment]]:
        """01: every run of Tables 3-5 and Fig. 7 as (setting, method label, experiment), for one records() call;
        the label tells MMIN's forms apart (:data:`MMIN_FORMS`), else it is the method's name."""
        settings = [("mosi", label, rates_protocol(("audio", "text", "video"), rates))
                    for label, rates in self.orderings.items()]
        settings += [(dataset, label, rates_protocol(GROUPS[dataset], ORDERINGS[label]))
                     for dataset, labels in self.stand_in_orderings.items() for label in labels]
        settings += [("avmnist_mce", f"audio {rate:g}", f"rates:audio={rate:g}") for rate in self.audio_rates]
        jobs = [(label, m, self.experiment(m, dataset, protocol)) for dataset, label, protocol in settings
                for m in self.methods_on(dataset)]
        return jobs + [(IMAGE_ONLY, "concat", self.experiment("concat", "avmnist_mce", "rates:audio=1"))]

    def run_plan(self) -> pd.DataFrame:
        """01: what :meth:`main_jobs` trains at this profile, per dataset: the settings (orderings, audio rates),
        the methods, the seeds and the number of runs (computed from the grid, so it cannot drift from it)."""
        rows = {}
        for setting, method, experiment in self.main_jobs():
            if setting == IMAGE_ONLY:
                continue
            row = rows.setdefault(experiment.dataset, {"settings": [], "methods": [], "runs": 0})
            row["settings"] += [setting] if setting not in row["settings"] else []
            row["methods"] += [method] if method not in row["methods"] else []
            row["runs"] += len(experiment.seed_list())
        seeds = len(self.seed_list())
        return pd.DataFrame([{"profile": self.profile, "dataset": dataset, "settings": ", ".join(row["settings"]),
                              "methods": ", ".join(row["methods"]), "seeds": seeds, "runs": row["runs"]}
                             for dataset, row in rows.items()])

    @property
    def ablation_rows(self) -> dict:
        """02: the rows of Table 2 run at this profile (row: components)."""
        return {key: ABLATION_ROWS[key] for key in ABLATION_KEEP[self.profile]}

    def ablation_jobs(self) -> list[Experiment]:
        """02: Table 2's rows, then the concatenation backbone (row a's difference to it), for one records() call."""
        return ([self.experiment("mce", **ablation_options(c)) for c in self.ablation_rows.values()]
                + [self.experiment("concat")])

    @property
    def shapley_variants(self) -> dict:
        """03: Table 8's scored variants, label: (method, options); the code's variant not at smoke."""
        variants = {"backbone (concat)": ("concat", {}), "MCE, exact Shapley": ("mce", {}),
                    "MCE, Monte-Carlo (K=100)": ("mce", {"shapley": "monte_carlo"}),
                    "MCE, the code's Shapley variant": ("mce", {"shapley_variant": "code"})}
        if self.profile == "smoke":  # the smoke test's time budget
            variants.pop("MCE, the code's Shapley variant")
        return variants

    def representation_models(self) -> dict:
        """04: the models whose features and encoders are measured, label: experiment."""
        return {"concat": self.experiment("concat"), "row a": self.experiment("mce", **ROW_A),
                "mce": self.experiment("mce")}

    @property
    def sweep_datasets(self) -> dict:
        return SWEEP_DATASETS[self.profile]

    def sweep_jobs(self) -> tuple[list, list, list[Experiment]]:
        """05, Fig. 4: the sweep's points (dataset, weight, value), the references (dataset, method: the backbone and
        the default MCE) and their experiments, points first, for one records() call."""
        points = [(d, name, value) for d in self.sweep_datasets for name in DEFAULT for value in SWEEP[self.profile]]
        references = [(d, method) for d in self.sweep_datasets for method in ("concat", "mce")]
        experiments = ([self.experiment("mce", d, self.sweep_datasets[d], seeds=self.sweep_seeds(value),
                                        **{**DEFAULT, name: value})
                        for d, name, value in points]
                       + [self.experiment(method, d, self.sweep_datasets[d], **(DEFAULT if method == "mce" else {}))
                          for d, method in references])
        return points, references, experiments

    def sweep_seeds(self, value: float) -> tuple[int, ...]:
        """05: the seeds of a swept value: every seed of the profile inside :data:`STABLE_RANGE` (the claim's); outside
        it, below paper, the selection seeds only (those values feed only the choice of the best other setting)."""
        inside = STABLE_RANGE[0] <= value <= STABLE_RANGE[1]
        return self.seed_list() if inside or self.profile == "paper" else self.selection_seeds

    @property
    def selection_seeds(self) -> tuple[int, ...]:
        """05: the best other setting is chosen on the first two seeds ..."""
        return self.seed_list()[:2]

    @property
    def confirmation_seeds(self) -> tuple[int, ...]:
        """... and re-run with the default on fresh ones."""
        return tuple(100 + seed for seed in self.seed_list())

    def heatmap_jobs(self) -> tuple[list, list[Experiment]]:
        """05, Fig. 5: (lambda_sub, lambda_aux) pairs and their experiments on the selection seeds."""
        pairs = [(sub, aux) for sub in HEATMAP[self.profile] for aux in HEATMAP[self.profile]]
        return pairs, [self.experiment(seeds=self.selection_seeds, **{**DEFAULT, "lambda_sub": sub,
                                                                         "lambda_aux": aux}) for sub, aux in pairs]

    def confirmation_jobs(self, best: dict) -> list[Experiment]:
        """05: the default and the ``best`` other setting on the confirmation seeds."""
        return [self.experiment(seeds=self.confirmation_seeds, **DEFAULT),
                self.experiment(seeds=self.confirmation_seeds, **best)]

    @property
    def dynamics(self) -> dict:
        return DYNAMICS if self.profile != "smoke" else {k: DYNAMICS[k] for k in DYNAMICS_SMOKE}

    def dynamics_jobs(self) -> list[tuple[str, Experiment, int, bool, bool]]:
        """05, Figs. 6 and 8: (label, experiment, seed, log steps, probe) per setting and seed."""
        return [(label, self.experiment(**options), seed, log_steps, probe)
                for label, (options, log_steps, probe) in self.dynamics.items() for seed in self.seed_list()]


def history_frame(experiment: Experiment, seed: int, history: list[dict]) -> pd.DataFrame:
    """One run's history from :func:`mmlib.train.fit`, in the form of :attr:`mmlib.store.Record.history`."""
    return pd.DataFrame(history).assign(dataset=experiment.dataset, method=experiment.method, seed=seed,
                                        epochs_allowed=training_config(experiment, seed).epochs)


def subset_scores(table: pd.DataFrame) -> pd.Series:
    """Per seed, the paper's score: accuracy averaged over all non-empty test subsets."""
    return table[table.metric == "accuracy"].groupby("seed").value.mean()


# ----------------------------------------------------------------- 04: representation quality and capability

def feature_quality(features: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Table 7's four numbers for features (N x d) and labels (N)."""
    classes = labels.unique()
    centroids = torch.stack([features[labels == c].mean(0) for c in classes])
    own = centroids[torch.searchsorted(classes, labels)]
    intra = (features - own).norm(dim=1).mean()
    pairs = torch.triu_indices(len(classes), len(classes), 1)
    inter = (centroids[pairs[0]] - centroids[pairs[1]]).norm(dim=1).mean()
    cosine = F.cosine_similarity(features, own, dim=1).mean()
    return {"intra-class distance": intra.item(), "inter-class distance": inter.item(),
            "intra/inter ratio": (intra / inter).item(), "intra-class cosine consistency": cosine.item()}


def representation_rows(experiment: Experiment, seed: int) -> tuple[dict, list[dict], pd.DataFrame]:
    """One trained run (:func:`mmlib.experiment.trained`: read from the results cache, trained if not there):
    Table 7's numbers for its fused test features (the test split under the training protocol's rates) and Fig. 9's
    capability of each modality (a new linear head on the frozen encoder, scored on the complete test split), and
    for MCE the accuracy of its frozen unimodal models (Eq. 6, the upper bound); and the run's per-epoch history."""
    name = experiment.method
    method, splits, record = trained(experiment, seed)
    method.cpu().eval()
    test = splits.test
    masked = parse_protocol(experiment.train_protocol, test.spec).apply(test, None, seed)
    with torch.no_grad():
        fused = method(masked.batch()).features
    quality = {"method": name, "seed": seed, **feature_quality(fused, masked.y)}
    capability = []
    for index, modality in enumerate(splits.spec.modality_names):
        capability.append({"method": name, "seed": seed, "modality": modality,
                           "value": linear_probe(method, splits.train, {"test": test}, modality)["test"]})
        if name == "mce":
            with torch.no_grad():
                logits = method.unimodal[index](test.x[modality], test.frame_mask.get(modality))
            capability.append({"method": "upper bound (unimodal, Eq. 6)", "seed": seed, "modality": modality,
                               "value": (logits.argmax(-1) == test.y).float().mean().item()})
    return quality, capability, record.history


# -------------------------------------------------------------------------------- 05: training dynamics

def training_dynamics(experiment: Experiment, seed: int, log_steps: bool, probe: bool
                      ) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """Train one run; return each step's loss terms (Fig. 6) if ``log_steps``, and if ``probe`` the capability of
    each modality after every epoch (Fig. 8: a new linear head on the frozen encoder, scored on the validation
    samples that have the modality and on the complete test split); and the run's per-epoch history. Computed once
    (:func:`mmlib.trained.compute_once`, keyed on the run, the two switches and this code): a rebuild reads it."""

    def compute():
        splits = prepared_splits(experiment, seed)
        scored = {"validation": splits.val, "test": splits.test}
        steps, probes = [], []

        def on_step(epoch, step, terms):
            steps.append({"seed": seed, "epoch": epoch, "step": step, "total": sum(terms.values()), **terms})

        def on_epoch(epoch, method):
            for modality in splits.spec.modality_names:
                for split, accuracy in linear_probe(method, splits.train, scored, modality).items():
                    probes.append({"seed": seed, "epoch": epoch + 1, "modality": modality, "split": split,
                                   "accuracy": accuracy})

        _, _, history = train_method(experiment, seed, on_step=on_step if log_steps else None,
                                     on_epoch=on_epoch if probe else None)
        return steps, probes, history_frame(experiment, seed, history)

    code = inspect.getsource(training_dynamics), inspect.getsource(history_frame)
    return compute_once("mce-training-dynamics", (experiment.key(seed), log_steps, probe, code), compute)


# ------------------------------------------------------------------------ 03: the factors of Eq. 5-8 in training

def unimodal_accuracy(method, splits, seed: int) -> list[dict]:
    """Each frozen unimodal model of Eq. 6 of a trained MCE, scored on the samples that have its modality in the
    training split (the data it was trained on, and the batches U_m is scored on in training) and in the validation
    split (held out, under the same missing rates)."""
    rows = []
    device = method.factor_a.device
    with torch.no_grad():
        for index, (name, model) in enumerate(zip(splits.spec.modality_names, method.unimodal)):
            for split, data in (("training (seen)", splits.train), ("validation (held out)", splits.val)):
                batch = data.subset(torch.nonzero(data.present[:, index]).flatten()).batch().to(device)
                logits = model.eval()(batch.x[name], batch.frame_mask.get(name))
                rows.append({"seed": seed, "modality": name, "split": split, "samples": len(batch.y),
                             "accuracy": (logits.argmax(-1) == batch.y).float().mean().item()})
    return rows


def shapley_factors(experiment: Experiment, seed: int) -> tuple[list[dict], pd.DataFrame, list[dict]]:
    """Train one MCE run as :func:`mmlib.experiment.train_method` does, recording after every training batch each
    modality's count, unimodal upper bound U_m (Eq. 6), Shapley value phi_m (Eq. 5), gap and factor B_m (Eq. 8)
    (Table 6); returns those rows, the run's per-epoch history and its unimodal models' accuracies on seen and on
    held-out samples (:func:`unimodal_accuracy`). Computed once (:func:`mmlib.trained.compute_once`, keyed on the
    run and this code): a rebuild reads it."""

    def compute():
        model, splits, config = build_method(experiment, seed)
        names = splits.spec.modality_names
        rows = []

        def record_factors(epoch, step, terms):
            factors = {k: v.tolist() for k, v in model.last_factors.items()}
            for index, name in enumerate(names):
                rows.append({"seed": seed, "epoch": epoch, "step": step, "modality": name,
                             **{k: factors[k][index] for k in ("count", "upper", "shapley", "gap", "B")}})

        history = fit(model, splits.train, splits.val, config, on_step=record_factors,
                      select_on=validation_sets(experiment, splits, seed))
        return rows, history_frame(experiment, seed, history), unimodal_accuracy(model, splits, seed)

    code = inspect.getsource(shapley_factors), inspect.getsource(history_frame), inspect.getsource(unimodal_accuracy)
    return compute_once("mce-shapley-factors", (experiment.key(seed), code), compute)


def held_out_factor(log: pd.DataFrame, accuracy: pd.DataFrame) -> pd.DataFrame:
    """The factor B of Eq. 8 along the recorded training (``log``: one row per seed, batch and modality, as
    :func:`shapley_factors` records) with U_m scored on held-out samples: a batch's held-out U_m is its count of m
    times the unimodal model's accuracy on the validation samples that have m (``accuracy``, from
    :func:`unimodal_accuracy`), the number it would get right on samples it was not trained on. The recorded phi_m
    is kept: the factor is recomputed, not fed back into training."""
    held_out = accuracy[accuracy.split == "validation (held out)"].set_index(["seed", "modality"]).accuracy
    rate = pd.Series(list(zip(log.seed, log.modality)), index=log.index).map(held_out)
    upper = log["count"] * rate
    gap = upper - log.shapley
    factor = np.where((gap > 0) & (log["count"] > 0), gap / log["count"].clip(lower=1), 0.0)
    return log.assign(upper=upper, gap=gap, B=factor)


def valuations_compared(method, data, batch_size: int = 128) -> pd.DataFrame:
    """Eq. 5 and the authors' code's Shapley values (:func:`mmlib.methods.mce.code_variant_shapley`) on the same
    batches of ``data``, for a trained MCE in evaluation mode, U_m as in training (Eq. 6 on the batch): per batch,
    valuation and modality, phi_m per sample that has m, B_m (Eq. 8) and whether its gap is negative (masked)."""
    rows = []
    device = method.factor_a.device
    names = method.spec.modality_names
    method.eval()
    with torch.no_grad():
        for number, batch in enumerate(data.batches(batch_size)):
            batch = batch.to(device)
            table = method.coalition_values(batch)
            upper, counts = method.upper_bounds(batch).sum(0), batch.present.sum(0).float()
            for label, phi in (("Eq. 5", method.shapley_values(batch, table).sum(0)),
                               ("code", code_variant_shapley(table, batch.present).float())):
                factor = learning_state_factor(phi, upper, counts)
                rows += [{"batch": number, "valuation": label, "modality": name, "count": counts[i].item(),
                          "phi per sample": (phi[i] / counts[i]).item() if counts[i] > 0 else np.nan,
                          "B": factor[i].item(), "masked": bool(upper[i] < phi[i])}
                         for i, name in enumerate(names)]
    return pd.DataFrame(rows)


def step_cost(step) -> dict[str, float]:
    """FLOPs and peak memory of one call of ``step`` (a training step, or a Shapley evaluation) on the CPU: the
    floating-point operations of its matrix products, attention and convolutions, forward and backward
    (:class:`torch.utils.flop_counter.FlopCounterMode`; element-wise operations are not counted), and the peak,
    over the call, of the bytes held by the tensors the profiler sees allocated in it (the PyTorch profiler's
    memory timeline; tensors allocated before the call, such as the inputs and parameters, are not counted)."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import MemoryProfileTimeline
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    sys.stderr.flush()
    saved = os.dup(2)  # the profiler's native start/stop lines go to the process's stderr: silenced
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True,
                         with_stack=True) as run:
                step()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    _, sizes = MemoryProfileTimeline(run._memory_profile())._coalesce_timeline("cpu")
    peak = max((sum(row) for row in sizes), default=0)
    return {"GFLOPs": counter.get_total_flops() / 1e9, "peak memory (MB)": peak / 2 ** 20}
