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
| training | 2 epochs (the smoke profile's cap) | 6 epochs, batch 128, AdamW lr 2e-3 | AdamW lr 1e-3, the recipe's 30 epochs |
| Tables 1-2 | MOSI at kappa 0.7 and 1 | MOSI at 0.7 and 1, Scene-15 at 0.7 | MOSI, Scene-15 at 0.7 and 1; AV-MNIST at 0.7 |
| methods in Tables 1-2 | transformer, MAPs, MGR | the same | and dropout and the other chapters' methods |
| Tables 3-4 | one setting of each | kappa 0.7 | kappa 0.7 and 1 (Table 3) |
| ablations (Tables 5-8, Fig. 4) | MOSI, kappa 0.7 | MOSI, kappa 0.7; L_T up to 2 | every Table 1-2 setting; L_T up to 3 |
| Figure 5 (heterogeneity gap) | MAPs and MGR on MOSI, kappa 0.7 | the same | the same |
| claims not tested | Tables 3-4's (one setting of each is run) | Table 3 at kappa 1 | none |

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

from mmlib.experiment import Experiment, run_each, train_method
from mmlib.methods import METHODS

#: Tables 3 and 4 (CMU-MOSEI in the paper; MOSI here): absence allowed in two, or in one, of the modalities
TWO_ABSENT, ONE_ABSENT = ("video,audio", "video,text", "audio,text"), ("video", "audio", "text")
#: Tables 5-8: MGR variants (options of mmlib.methods.mgr.MGR); "Token" and "MGR" are the default model
INSERTIONS = {"Token": {}, "Summation": dict(insertion="summation"), "MAPs/Attn.": dict(insertion="attention"),
              "MAPs/Input": dict(insertion="input")}
COMPONENTS = {"MGR": {}, "w/o mixed-context": dict(prompt="maps"), "w/o L_div": dict(lambda_div=0.0),
              "w/o h_u": dict(unimodal=False)}
KEEP_RATIOS = (0.25, 0.5, 0.75)  # Figure 4's rho; the default is 0.5


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

    @property
    def training(self) -> dict:
        """AdamW, MGR's optimiser; at quick, 6 epochs in batches of 128 at lr 2e-3 to fit the CPU budget."""
        if self.profile == "paper":
            return dict(optimizer="adamw", lr=1e-3, weight_decay=1e-2)
        return dict(epochs=6, batch_size=128, lr=2e-3, optimizer="adamw", weight_decay=1e-2)

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

    def main_grid(self) -> pd.DataFrame:
        return self.runs([dict(dataset=dataset, method=method, kappa=kappa)
                          for dataset, kappas in self.main_datasets.items() for kappa in kappas
                          for method in self.main_methods])

    def absence_grid(self) -> pd.DataFrame:
        two, one, kappas = self.absence_settings
        return self.runs([dict(dataset="mosi", method=method, kappa=kappa, absent_in=absent_in)
                          for absent_in in two for kappa in kappas for method in ("maps", "mgr")]
                         + [dict(dataset="mosi", method=method, kappa=0.7, absent_in=absent_in)
                            for absent_in in one for method in ("maps", "mgr")])

    def ablation_grid(self) -> pd.DataFrame:
        # variants with the same options (Token, MGR, L_T=2, rho=0.5) are one run under several names
        return self.runs([dict(dataset=dataset, method="mgr", kappa=kappa, variant=name, options=options)
                          for dataset, kappa in self.ablation_settings
                          for name, options in self.ablation_variants().items()])

    # ------------------------------------------------------------------------------------------------ running

    def experiment(self, dataset: str, method: str, kappa: float, mask_seed: int, absent_in: str | None = None,
                   options: dict | None = None, seeds: tuple[int, ...] | None = None) -> Experiment:
        """One absence seed's runs of ``method`` under prevalence ``kappa``, absence allowed in the modalities
        ``absent_in`` (comma-separated; default all), over the training seeds."""
        protocol = f"kappa:{kappa}" + (f":{absent_in}" if absent_in else "")
        return Experiment(dataset, method, seeds=seeds or self.train_seeds, train_protocol=protocol,
                          test_protocols=(protocol,), profile=self.profile,
                          method_options={**self.model, **(options or {})}, train_options=self.training,
                          device=self.device, data_dir=self.data_dir, mask_seed=mask_seed)

    def runs(self, settings: list[dict]) -> pd.DataFrame:
        """Every (absence seed, training seed) run of each setting (``dataset, method, kappa`` and optionally
        ``absent_in, variant, options``), trained side by side: one tidy table with the columns ``mask_seed,
        kappa, absent_in, variant`` added."""
        experiments, labels = [], []
        for setting in settings:
            setting = {"absent_in": None, "variant": None, "options": None, **setting}
            for mask_seed in self.absence_seeds:
                experiments.append(self.experiment(setting["dataset"], setting["method"], setting["kappa"], mask_seed,
                                                   setting["absent_in"], setting["options"]))
                labels.append(dict(mask_seed=mask_seed, kappa=setting["kappa"],
                                   absent_in=setting["absent_in"] or "all",
                                   variant=setting["variant"] or setting["method"]))
        return pd.concat([table.assign(**label) for table, label in zip(run_each(experiments), labels)],
                         ignore_index=True)


def claim_table(results: pd.DataFrame, condition, method: str = "method") -> pd.DataFrame:
    """The tidy table :func:`mmlib.claims.judge` reads: one row per (run, condition, metric), with the columns
    ``method`` (from the column ``method``, e.g. ``variant``), ``seed``, ``mask_seed`` (the replicate is the pair),
    ``dataset``, ``condition`` (``condition(row)`` for each row) and ``metric``, ``value``. The grid's other
    columns (protocol, kappa, variant...) are left out, so that they do not split the comparison."""
    return pd.DataFrame({"method": results[method].to_numpy(), "seed": results["seed"].to_numpy(),
                         "mask_seed": results["mask_seed"].to_numpy(), "dataset": results["dataset"].to_numpy(),
                         "condition": results.apply(condition, axis=1).to_numpy() if len(results) else [],
                         "metric": results["metric"].to_numpy(), "value": results["value"].to_numpy()})


def main_claim_tables(chapter: Chapter, results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tables 1-2's claims (``mgr/paper_claims.py``): the condition is the prevalence (``kappa=0.7``); for
    ``mgr.kappa_drop`` the prevalence is the "method" and the model the condition, on the datasets run at both."""
    table = claim_table(results, lambda row: f"kappa={row.kappa:g}")
    both = [d for d, kappas in chapter.main_datasets.items() if {0.7, 1} <= set(kappas)]
    part = results[results.dataset.isin(both)]
    by_kappa = claim_table(part.assign(kappa_label="kappa=" + part.kappa.map("{:g}".format)), lambda row: row.method,
                           method="kappa_label")
    return {"mgr.table1": table, "mgr.table2": table, "mgr.kappa_drop": by_kappa}


def absence_claim_table(results: pd.DataFrame) -> pd.DataFrame:
    """Tables 3-4's claims: one condition per (kappa, absence type), named as ``paper_claims.absence_condition``."""
    return claim_table(results, lambda row: f"kappa={row.kappa:g}; absent in {row.absent_in}")


def ablation_claim_table(results: pd.DataFrame) -> pd.DataFrame:
    """Tables 5-8 and Figure 4's claims: the variant is the method, the prevalence the condition."""
    return claim_table(results, lambda row: f"kappa={row.kappa:g}", method="variant")


def gap_claim_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """Figure 5's claim: the heterogeneity gap per run (``method, mask_seed, seed, absence, gap``) on MOSI; the
    absence types are the conditions of one run."""
    return pd.DataFrame({"method": gaps["method"], "seed": gaps["seed"], "mask_seed": gaps["mask_seed"],
                         "dataset": "mosi", "condition": gaps["absence"], "metric": "heterogeneity_gap",
                         "value": gaps["gap"]})


def mean_std(values) -> str:
    """'mean / std' in percent, as the paper prints it."""
    return f"{100 * np.mean(values):.2f} / {100 * np.std(values, ddof=1) if len(values) > 1 else 0:.2f}"


def test_features(experiment: Experiment, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Train one run (Figure 5); return the classifier's input for the complete test samples and for each
    single-modality absence (``"<modality> absent"``), and the test labels."""
    method, splits, _ = train_method(experiment, seed)
    method.cpu().eval()
    test = splits.test
    names = test.spec.modality_names
    features = {}
    with torch.no_grad():
        for label, drop in {"complete": None, **{f"{name} absent": i for i, name in enumerate(names)}}.items():
            present = test.present.clone()
            if drop is not None:
                present[:, drop] = False
            features[label] = torch.cat([method(b).features for b in test.with_missing(present).batches(512)]).numpy()
    return features, test.y.numpy()
