"""The MCE chapter's settings, shared by its notebooks so that each is defined once, and the per-run work of the
notebooks that look inside trained models (run side by side with :func:`mmlib.experiment.map_in_workers`, which
needs functions defined in a module).

| | smoke | quick (2-core CPU) | paper |
|---|---|---|---|
| seeds | 0 | 0-4 (the profile's) | 0-9 (the paper's 10 runs) |
| backbone | d = 32 | d = 32 | d = 32 |
| training | 2 epochs (the smoke profile's cap) | 8 epochs | the recipe's 60 |
| optimiser | Adam, lr 1e-3, batch 128 (MCE's recipe) | the same | the same |
| frozen unimodal models of Eq. 6 | 5 epochs | 5 epochs | the method's default |

Every method of the chapter gets the same small backbone and recipe, so runs that several notebooks need (the
default MCE run on MOSI at ordering a, the concatenation backbone) are trained once and read from the results cache.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch.nn import functional as F

from mmlib.evaluate import linear_probe
from mmlib.experiment import Experiment, prepared_splits, train_method
from mmlib.missing import parse_protocol

#: ordering a of the paper's missing rates over (A, L, V) = (audio, text, video) on MOSI
PROTOCOL = "rates:audio=0.2,text=0.5,video=0.8"
#: the same ordering over Scene-15's three views (01_main_tables' Table 3 stand-in)
SCENE15_PROTOCOL = "rates:gist=0.2,phog=0.5,lbp=0.8"
#: Table 2's row a as MCE's options: the backbone with the reconstruction module of Eq. 15, no MCE loss or factor
ROW_A = {"use_a": False, "use_b": False, "lambda_single": 0.0, "lambda_sub": 0.0, "lambda_aux": 0.0}


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
    def training(self) -> dict:
        return {**(dict(epochs=8) if self.profile == "quick" else {}), "batch_size": 128, "lr": 1e-3,
                "optimizer": "adam"}

    @property
    def mce_options(self) -> dict:
        """At smoke and quick, 5 epochs for each frozen unimodal model of Eq. 6 (the CPU budget)."""
        return dict(unimodal_epochs=5) if self.profile != "paper" else {}

    def experiment(self, method: str = "mce", dataset: str = "mosi", protocol: str = PROTOCOL,
                   seeds: tuple[int, ...] | None = None, **options) -> Experiment:
        """``method`` on ``dataset`` trained (and validated) under the missing-rate ``protocol``, scored on every
        test subset; MCE's own ``options`` on top of the chapter's."""
        extra = self.mce_options if method == "mce" else {}
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


def representation_rows(experiment: Experiment, seed: int) -> tuple[dict, list[dict]]:
    """Train one run; return Table 7's numbers for its fused test features (the test split under the training
    protocol's rates) and Fig. 9's capability of each modality (a new linear head on the frozen encoder, scored on
    the complete test split), and for MCE the accuracy of its frozen unimodal models (Eq. 6, the upper bound)."""
    name = experiment.method
    method, splits, _ = train_method(experiment, seed)
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
    return quality, capability


# -------------------------------------------------------------------------------- 05: training dynamics

def training_dynamics(experiment: Experiment, seed: int, log_steps: bool, probe: bool
                      ) -> tuple[list[dict], list[dict]]:
    """Train one run; return each step's loss terms (Fig. 6) if ``log_steps``, and if ``probe`` the capability of
    each modality after every epoch (Fig. 8: a new linear head on the frozen encoder, scored on the validation
    samples that have the modality and on the complete test split)."""
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

    train_method(experiment, seed, on_step=on_step if log_steps else None, on_epoch=on_epoch if probe else None)
    return steps, probes
