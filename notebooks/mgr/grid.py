"""The MGR chapter's settings and experiment grids, shared by its notebooks so that each is defined once.

MGR's protocol: a share kappa of the samples misses one modality, at train, validation and test alike; the paper
reports mean and std over absence seeds x training seeds (4 x 4). Each (absence seed, training seed) pair is one
run, and one replicate of every claim (``mgr/paper_claims.py``; the tables carry ``mask_seed`` beside ``seed`` and
``mmlib.claims`` pairs on both): the masks come from the absence seed, the initialisation and batches from the
training seed.

| | smoke | quick (2-core CPU) | paper |
|---|---|---|---|
| absence seeds x training seeds | 1 x 1 | 3 x 2 (6 replicates; the library's 5 training seeds are not used) | 4 x 4 (16) |
| backbone (Eq. 1 in the paper's form) | d = 32, 4 tokens per modality (AVLetters: 20 spans of a clip's frames) | d = 32, the same | d = 64, the same (AVLetters: 40 spans; AV-MNIST: 25) |
| epochs (every model on a dataset alike) | 2 (the profile's cap) | MOSI 6, AVLetters 15 (Scene-15 15 where run) | 30 (MGR's recipe) |
| recipe (every model alike; AdamW) | batch 128 (AVLetters 64), lr 2e-3 | the same | batch 64, lr 1e-3 |
| Tables 1-2 | MOSI at kappa 0.7 and 1; AVLetters at 0.7 | the same | MOSI, Scene-15 at 0.7 and 1; AVLetters, AV-MNIST at 0.7 |
| methods in Tables 1-2 | transformer, MAPs, MGR | the same | and dropout and the other chapters' methods |
| lr check: MGR, transformer at lr 1e-4 and the chapter's, kappa 0.7 | MOSI, 1 replicate | MOSI, 3 | every Table 1 dataset, 4 |
| Tables 3-4 | one setting of each | both at kappa 0.7 (Table 3 at kappa 1: the CPU budget) | kappa 0.7 and 1 (Table 3) |
| ablations (Tables 5-8, Fig. 4) | MOSI, kappa 0.7: every variant; L_T up to 2 | MOSI, kappa 0.7: Tables 7-8's components and L_T = 0, 2 | every Table 1-2 setting; every variant; L_T up to 3 |
| Figures 1 and 5 (Table 1's runs, through the cache) | transformer, MAPs, MGR (Figure 5: MAPs, MGR) on MOSI, kappa 0.7 | the same | the same |
| claims not tested | Table 3's at kappa 1 (the others judged on their one setting) | Table 3's at kappa 1 and Tables 5-6's (insertion) | none |

**What quick leaves out, and why** (issue 17's done-when: the chapter within 8 minutes at quick on the 2-core CPU).
First measured per run: the CPU seconds (``time.process_time()`` around ``mmlib.experiment._run_seed``, one process,
one thread, private cache) of one seed of each kind of run the notebooks train at quick, on the book's CPU while
other jobs shared it (load ~5 on 2 cores: the seconds are if anything high), the first run of a process less its
start-up (~2 s, paid once per worker). MOSI: transformer ~2, MAPs ~2, MGR ~4-5, its variants 3.5-5; AVLetters at
40 tokens 16 / 14 / 27, at 20 tokens 7 / 7 / 13; Scene-15 11 / 12 / 24. The grid as it was came to about 1,430 CPU
seconds: Tables 1-2 756 (AVLetters 343, Scene-15 277, MOSI 136), Tables 3-4 258, the ablations 283, the
learning-rate check 130. It was cut, in this order, until an estimate (the sum over runs / 1.3, an *assumed* gain of
two workers over one, plus ~10 s a notebook) was at most 7 minutes: first what feeds no claim (Figure 4's L_T = 1
and rho = 0.25, 0.75: 90 s; the learning-rate check on Scene-15: 103 s, it stays on MOSI; Figures 1 and 5's t-SNE
and UMAP drawn from smoke's 40 and 6 test samples, not paper's 120 and 20, and Figure 1's pictures of MAPs and MGR
only, every model's shift still computed: about 120 CPU s to 46); then repetition: Scene-15's column (a second
vector set beside MOSI in Table 1's claim; 277 s) and AVLetters' tokens halved, 20 per modality (343 to
164 s; 40 at ``paper``); then claims: Tables 3-4 and Tables 5-6's insertion variants.

Then the whole chapter was measured (the four notebooks papermilled one after the other at quick, empty private
cache, two workers, ``/usr/bin/time``; idle CPU, commit ee5c9e2): 234 s wall for 397 CPU seconds (01 148 s, 02 7,
03 55, 04 24); two workers are 1.6 to 1.8 times as fast as one (:data:`TWO_WORKER_SPEEDUP`), not 1.3, so the cuts
had gone further than the budget needs. Tables 3-4 came back at kappa = 0.7 (Table 3's three absence types and
Table 4's three: two claims), measured per run as above (one seed after a warm-up run, load ~1.5): MAPs 1.5 and MGR
3.6-3.9 CPU s on MOSI, 72 runs, about 190 CPU s. The chapter with them, measured as above but on the shared CPU
(load 4.6-5.8, so the CPU seconds are somewhat high and the wall far above an idle build's): 653 CPU seconds
(01 281, 02 235, 03 97, 04 40) in 1,050 s wall. An idle build is estimated at CPU seconds / 1.6 plus ~5 s a
notebook's start: about 6.5 minutes from the ee5c9e2 build plus the per-run 190 s (587 CPU s), about 7.1 from the
loaded build's 653, within the 8 minutes. Table 3 at kappa = 1 (36 runs, about 95 CPU s) stays at ``paper``, and
Tables 5-6's insertion variants (18 MGR runs of 3.7-3.9 CPU s, about 70 CPU s, 0.7 minutes more) too: with them
the estimate would be 7.2 to 7.9 minutes, too close to the budget on a machine as contended as the book's. Both run at
``paper`` (the insertion variants also at ``smoke``, which checks their code) and their claims are *not tested* at quick (each claim's
detail says so, from :meth:`Chapter.scoped`). Notebook ``01_main_tables`` recomputes an estimate of the training
minutes from the steps it measures (:func:`chapter_minutes`), and the page says what quick leaves out, computed from
the grids (:func:`left_out`).

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
profile's cap, 15, where it runs (10 epochs everywhere would have left Scene-15 under-trained, and 15 everywhere
would cost about 2.5 times MOSI's runs); at quick Scene-15 is no longer run (above), and the 15 epochs stay for
a reader who adds it back. Every model compared on a dataset
still gets the same epochs; a table that spans MOSI and Scene-15 compares each model with the others dataset by
dataset.

**Learning rate.** The paper fine-tunes a pre-trained ViLT with AdamW at lr 1e-4; here the backbone is trained from
scratch, at 2e-3 (quick: batches of 128, few epochs) or 1e-3 (paper, MGR's recipe). The choice is checked
(:meth:`Chapter.lr_grid`, shown in ``01_main_tables``): MGR and the transformer at both rates, with the same epochs,
on the datasets of :attr:`Chapter.lr_datasets` (every dataset of Table 1 at paper; the vector sets at smoke and quick,
for the CPU budget) at kappa 0.7, judged by :mod:`mmlib.claims`; the notebook says, from the numbers of each build,
whether the chapter's rate is the better one.

**Tokens.** MGR ranks and redistributes tokens; on the vector sets a token is a slice of an MLP output, so Table 1
also runs, at every profile, on AVLetters, real frame sequences, with the encoders' own tokens (:data:`FRAME_TOKENS`):
40 per modality at ``paper``, 20 at ``smoke`` and ``quick`` (half the tokens, about half the cost of
its runs, which are the costliest of Table 1: 15 epochs, batches of 64). Each notebook-01 build measures the step
times and estimates the chapter's training minutes from them (:func:`chapter_minutes`), and AV-MNIST's column beside
them (:func:`column_minutes`).

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
from mmlib.methods.baselines import TransformerFusion
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
EPOCHS = {"smoke": 2, "quick": {"mosi": 6, "scene15": 15, "avletters": 15}, "paper": 30}
#: batches per dataset where the chapter's batch would give too few updates: AVLetters' 468 training clips give 4
#: updates an epoch in batches of 128 and 8 in MGR's recipe's 64 (every model on the dataset alike)
BATCH = {"avletters": 64}
DATASET_NAMES = {"mosi": "MOSI", "scene15": "Scene-15", "avletters": "AVLetters", "avmnist": "AV-MNIST"}
#: tokens per modality on the frame-sequence sets at ``paper``, so that a token is the encoders' own (issue 17): on
#: AVLetters 40 equal spans of each clip's own lip frames (a clip is shorter than the 40 frames at 25 fps it is padded
#: to, so a frame may feed two spans: mmlib.nn.span_weights) and of its MFCC frames; on AV-MNIST the image encoder's 5 x 5 grid of patches (a square) and the audio's 100
#: frames in 25 steps of 4. The vector sets (MOSI, Scene-15) keep 4 slices of an MLP output per modality.
FRAME_TOKENS = {"avletters": 40, "avmnist": 25}
#: at ``smoke`` and ``quick`` (the CPU budget, module docstring): AVLetters' tokens are 20 spans of a clip's frames
#: per modality, still the encoder's own frames in time order
QUICK_FRAME_TOKENS = {"avletters": 20}
#: how much faster two single-threaded workers run the chapter than one on the book's 2-core CPU (two hyperthreaded
#: vCPUs), the divisor of :func:`chapter_minutes`' estimate: CPU seconds / wall seconds of whole chapters built at
#: quick on an idle CPU with two workers, empty cache, at commit ee5c9e2: DREAM 488 / 306 = 1.6, MGR 397 / 234 = 1.7,
#: CMPT 400 / 218 = 1.8; the lowest is kept, so that the estimate errs long
TWO_WORKER_SPEEDUP = 1.6
#: the paper's learning rate (AdamW, fine-tuning a pre-trained ViLT), checked against the chapter's (Chapter.lr_grid)
PAPER_LR = 1e-4
#: where the learning rate is checked: the datasets of Chapter.lr_datasets at this kappa, MGR and the model it builds on, over
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

    def frame_tokens(self, dataset: str) -> int | None:
        """Tokens per modality on a frame-sequence set at this profile (:data:`FRAME_TOKENS` at paper,
        :data:`QUICK_FRAME_TOKENS` over them at smoke and quick); None on the vector sets."""
        tokens = FRAME_TOKENS if self.profile == "paper" else {**FRAME_TOKENS, **QUICK_FRAME_TOKENS}
        return tokens.get(dataset)

    def model(self, dataset: str, method: str) -> dict:
        """Every method of the chapter gets the same small backbone on a dataset: d = 32 (64 at paper); 4 tokens per
        modality on the vector sets, the encoders' own frame tokens on the sequence sets (:meth:`frame_tokens`); and
        for the methods built on the transformer baseline (transformer, MAPs, MGR) Eq. 1 in the paper's form
        (``embedding="paper"``: per-token E_avail, modality-type and position embeddings; issue 17, item 1)."""
        options = dict(d_model=64 if self.profile == "paper" else 32, num_tokens=self.frame_tokens(dataset) or 4)
        if method in METHODS and issubclass(METHODS[method], TransformerFusion):
            options["embedding"] = "paper"
        return options

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
        batch = 64 if self.profile == "paper" else BATCH.get(dataset, 128)
        return dict(epochs=self.epochs(dataset), batch_size=batch, lr=self.lr,
                    optimizer="adamw", weight_decay=1e-2, scheduler=None, warmup_epochs=0, patience=8,
                    selection="protocol")

    def recipe_text(self) -> str:
        """The recipe in words ("6 epochs on MOSI and 15 on Scene-15, in batches of 128, AdamW at lr 0.002")."""
        epochs = EPOCHS[self.profile]
        if isinstance(epochs, dict):
            parts = [f"{n} on {DATASET_NAMES.get(d, d)}" for d, n in epochs.items() if d in self.main_datasets]
            parts[0] = parts[0].replace(" on ", " epochs on ", 1)
            text = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        else:
            text = f"{epochs} epochs"
        batch = self.training("mosi")["batch_size"]
        other = {d: self.training(d)["batch_size"] for d in self.main_datasets}
        other = [f"{DATASET_NAMES.get(d, d)} {b}" for d, b in other.items() if b != batch]
        return (f"{text}, in batches of {batch}" + (f" ({', '.join(other)})" if other else "")
                + f", AdamW at lr {self.lr:g}")

    # ---------------------------------------------------------------------------------------------- the grids

    @property
    def main_datasets(self) -> dict[str, tuple[float, ...]]:
        """Tables 1 and 2: the kappas of each dataset."""
        return {"smoke": {"mosi": (0.7, 1), "avletters": (0.7,)},
                "quick": {"mosi": (0.7, 1), "avletters": (0.7,)},  # Scene-15 at paper: module docstring
                "paper": {"mosi": (0.7, 1), "scene15": (0.7, 1), "avletters": (0.7,), "avmnist": (0.7,)}}[self.profile]

    @property
    def lr_datasets(self) -> list[str]:
        """Where the learning-rate check runs: every dataset of Table 1 at paper; the vector sets of Table 1 at smoke
        and quick (MOSI), whose recipe (batches of 128) it checks, not AVLetters (batches of 64, where 1e-4 in 15
        epochs is 120 updates) for the CPU budget."""
        return [d for d in self.main_datasets if self.profile == "paper" or d not in FRAME_TOKENS]

    @property
    def main_methods(self) -> list[str]:
        others = ["dropout"] + [m for m in ("dream", "cmpt", "mce", "mmp") if m in METHODS]
        return ["transformer", "maps", "mgr"] + (others if self.profile == "paper" else [])

    @property
    def absence_settings(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[float, ...]]:
        """Tables 3 and 4: the two-modality and one-modality absence sets, and Table 3's kappas."""
        if self.profile == "smoke":  # one setting of each table: the smoke profile only checks that the code runs
            return TWO_ABSENT[:1], ONE_ABSENT[:1], (0.7,)
        if self.profile == "quick":  # Table 3 at kappa 1 at paper only: the CPU budget (module docstring)
            return TWO_ABSENT, ONE_ABSENT, (0.7,)
        return TWO_ABSENT, ONE_ABSENT, (0.7, 1)

    @property
    def refine_layers(self) -> tuple[int, ...]:
        """Figure 4's L_T (default 2); L_T = 0 is no refinement at all (the mean of h_e feeds the classifier)."""
        return {"smoke": (0, 1, 2), "quick": (0, 2), "paper": (0, 1, 2, 3)}[self.profile]  # quick: the claim's two

    @property
    def keep_ratios(self) -> tuple[float, ...]:
        """Figure 4's rho (default 0.5): :data:`KEEP_RATIOS` but at quick, where only the default runs (no claim reads
        the others; module docstring)."""
        return (0.5,) if self.profile == "quick" else KEEP_RATIOS

    @property
    def insertions(self) -> dict[str, dict]:
        """Tables 5-6's prompt insertions: :data:`INSERTIONS` but at quick, where only the default (Token) runs
        (the CPU budget; ``mgr.insertion_token`` is not tested there)."""
        return {"Token": {}} if self.profile == "quick" else dict(INSERTIONS)

    @property
    def ablation_settings(self) -> list[tuple[str, float]]:
        if self.profile == "paper":
            return [("mosi", 0.7), ("mosi", 1), ("scene15", 0.7), ("scene15", 1), ("avmnist", 0.7)]
        return [("mosi", 0.7)]

    def ablation_variants(self) -> dict[str, dict]:
        variants = {**self.insertions, **COMPONENTS}
        variants.update({f"L_T={n}": dict(refine_layers=n) for n in self.refine_layers})
        variants.update({f"rho={r:g}": dict(keep_ratio=r) for r in self.keep_ratios})
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
        """The learning-rate check: MGR and the transformer it builds on, on the datasets of :attr:`lr_datasets` at
        kappa ``LR_CHECK["kappa"]``, over the absence seeds with the first training seed, at the chapter's lr (Table
        1's own runs, read from the cache) and at the paper's 1e-4. Every vector set of Table 1 (every dataset at
        paper), so that where the check is made is not chosen after its numbers are seen."""
        return [dict(dataset=dataset, method=method, kappa=LR_CHECK["kappa"], lr=lr, seeds=self.train_seeds[:1])
                for dataset in self.lr_datasets for lr in self.lrs for method in LR_CHECK["methods"]]

    def scoped(self, claim):
        """``claim`` as this profile's grids test it, computed from the grids rather than typed in its note: where
        the profile runs less of what the claim compares than ``paper`` does, the claim is narrowed to what runs
        (Tables 1-2 and the ablations: its datasets; Tables 3-4: its absence types) and its note says what runs here
        and what ``paper`` adds (the CPU budget, module docstring); a claim none of whose comparison runs here keeps
        its declaration (so that it comes out *not tested*) and its note says what is missing. At ``paper``, and
        where a profile runs all of a claim's comparison, the claim as declared."""
        from dataclasses import replace

        if self.profile == "paper":
            return claim
        paper, change, note = Chapter("paper"), {}, ""
        names = lambda datasets: ", ".join(DATASET_NAMES.get(d, d) for d in datasets)  # noqa: E731
        settings = lambda pairs: ", ".join(f"{DATASET_NAMES.get(d, d)} at κ = {k:g}" for d, k in pairs)  # noqa: E731
        if claim.notebook == "mgr/01_main_tables.ipynb":  # a claim's kappas: its conditions, or (kappa_drop) its sides
            kappas = {float(c.split("=")[1]) for c in claim.conditions or (claim.method, *claim.comparators())}
            here, there = ([d for d, ks in c.main_datasets.items() if kappas <= set(ks)] for c in (self, paper))
            if here and here != there:
                change["datasets"] = tuple(here)
                note = (f"at {self.profile} on {names(here)}; {names(d for d in there if d not in here)} at paper "
                        "only (the CPU budget, grid.py)")
        elif claim.notebook == "mgr/02_absence_types.ipynb":
            run = {f"kappa={s['kappa']:g}; absent in {s['absent_in']}" for s in self.absence_settings_list()}
            kept = tuple(c for c in claim.conditions if c in run)
            if kept and kept != claim.conditions:
                change["conditions"] = kept
                note = (f"at {self.profile} on {len(kept)} of its {len(claim.conditions)} absence types "
                        f"({', '.join(kept)}); the others at paper only (the CPU budget, grid.py)")
            elif not kept:
                note = f"not run at {self.profile}: at paper only (the CPU budget, grid.py)"
        elif claim.notebook == "mgr/03_ablations.ipynb":
            missing = [v for v in (claim.method, *claim.comparators()) if v not in self.ablation_variants()]
            left = [s for s in paper.ablation_settings if s not in self.ablation_settings]
            if missing:
                note = f"not run at {self.profile}: {', '.join(missing)} at paper only (the CPU budget, grid.py)"
            elif left:
                change["datasets"] = tuple(dict.fromkeys(d for d, _ in self.ablation_settings))
                note = (f"at {self.profile} on {settings(self.ablation_settings)}; {settings(left)} at paper only "
                        "(the CPU budget, grid.py)")
        if not note:
            return claim
        return replace(claim, **change, note="; ".join(filter(None, [claim.note, note])))

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
                          method_options={**self.model(dataset, method), **(options or {})}, train_options=training,
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
        if not experiments:  # a grid this profile does not run
            return Runs(pd.DataFrame(), pd.DataFrame())
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


def absence_claim_table(results: pd.DataFrame) -> pd.DataFrame | None:
    """Tables 3-4's claims: one condition per (kappa, absence type), named as ``paper_claims.absence_condition``;
    None where the profile runs none of them (:func:`mmlib.claims.judge` then says *not tested*)."""
    return None if results.empty else claim_table(results, _absence)


def absence_claim_history(history: pd.DataFrame, claim) -> pd.DataFrame | None:
    return None if history.empty else claim_history(history, claim, _absence)


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


def multimodal_tokens(method, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's input (B x d: the [CLS] output of the transformer and MAPs, MGR's refined z) and the
    multimodal tokens h of Eq. 2 (B x N x d): the output of the fusion transformer (its last LayerNorm) with [CLS]
    dropped, where an absent modality's tokens are the transformer's imputation of it. The same place in the
    transformer, MAPs (whose input-level prompts leave the sequence after each block) and MGR (token insertion: its
    prompts join in the refinement, after Eq. 2), read with a forward hook so that no model is changed for it."""
    seen = []
    handle = method.fusion.norm.register_forward_hook(lambda module, inputs, output: seen.append(output))
    try:
        features = method(batch).features
    finally:
        handle.remove()
    return features, seen[0][:, 1:]


def representations(experiments: list[Experiment], seeds: list[int], batch_size: int = 512) -> list[dict]:
    """Figures 1 and 5: for each (experiment, training seed), read through the results cache (:func:`records`
    first, in one call: the runs are Table 1's, so they are cache hits, and a run that is missing is trained and
    kept there under the chapter's budget check; then :func:`mmlib.experiment.trained`, in this process, reads its
    kept weights), the *complete* test samples fed complete and with each modality removed in turn
    (``"<modality> absent"``): per condition the classifier's input and the multimodal tokens
    (:func:`multimodal_tokens`), with the test labels, the token's modality (``token_modality``, N) and the run's
    history (``mask_seed`` and ``config`` added as in :meth:`Chapter.runs`)."""
    from mmlib.experiment import trained

    got = records([e for e in experiments])  # the budget check and the cache, as every grid of the chapter
    out = []
    for experiment, seed, record in zip(experiments, seeds, got):
        method, splits, _ = trained(experiment, seed)  # a cache hit: records() kept its weights
        method.cpu().eval()
        test = splits.test
        names = test.spec.modality_names
        features, tokens = {}, {}
        with torch.no_grad():
            for label, drop in {"complete": None, **{f"{name} absent": i for i, name in enumerate(names)}}.items():
                present = test.present.clone()
                if drop is not None:
                    present[:, drop] = False
                parts = [multimodal_tokens(method, b) for b in test.with_missing(present).batches(batch_size)]
                features[label] = torch.cat([f for f, _ in parts]).numpy()
                tokens[label] = torch.cat([t for _, t in parts]).numpy()
        counts = [method.encoders[name].num_tokens for name in names]
        out.append(dict(features=features, tokens=tokens, y=test.y.numpy(),
                        token_modality=np.repeat(names, counts),
                        history=record.history.assign(mask_seed=experiment.mask_seed, config=experiment.key(seed))))
    return out


def shift(representation: dict[str, np.ndarray]) -> dict[str, float]:
    """Figure 1's number: how far one sample's representation moves when a modality goes missing, per absence type:
    the mean over samples of ||r_i(absence) - r_i(complete)||, in units of the mean distance between two samples'
    complete representations (scale free, so that models can be compared). Rows of each array are samples
    (flattened if they are token sets)."""
    flat = {label: r.reshape(len(r), -1) for label, r in representation.items()}
    complete = flat["complete"]
    rng = np.random.default_rng(0)  # a fixed sample of pairs: all pairs of a large test split are many
    i, j = rng.integers(0, len(complete), (2, 20_000))
    between = np.linalg.norm(complete[i[i != j]] - complete[j[i != j]], axis=1).mean()
    return {label: float(np.linalg.norm(r - complete, axis=1).mean() / between)
            for label, r in flat.items() if label != "complete"}


def heterogeneity_gap(representation: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    """Figure 5's number, per absence type: the mean shift of the class centroids when the modality is removed, in
    units of the mean distance between complete class centroids (rows of each array are samples, flattened if they
    are token sets)."""
    flat = {label: r.reshape(len(r), -1) for label, r in representation.items()}
    classes = np.unique(y)
    centroids = {label: np.stack([f[y == c].mean(0) for c in classes]) for label, f in flat.items()}
    complete = centroids["complete"]
    between = np.mean([np.linalg.norm(complete[a] - complete[b]) for a in range(len(classes))
                       for b in range(len(classes)) if a != b])
    return {label: float(np.linalg.norm(c - complete, axis=1).mean() / between)
            for label, c in centroids.items() if label != "complete"}


# ------------------------------------------------------------------------------------------------------- cost

def step_cost(chapter: Chapter, dataset: str, methods=("transformer", "mgr"), kappa: float = 0.7, steps: int = 6,
              repeats: int = 2) -> pd.DataFrame:
    """Each model's parameters and seconds per training step on ``dataset`` (the chapter's options and batch size,
    one thread, the batches of absence seed 0's training split), measured in one process: the models' steps are
    interleaved, ``repeats`` rounds of ``steps`` steps each (:func:`mmlib.bench._bare_steps`: forward, loss,
    backward, an optimiser step), so that a slow moment of a shared machine falls on every model alike; the median
    step is kept. Columns ``parameters``, ``step (ms)`` and, against the first of ``methods``, ``parameters ratio``
    and ``time ratio``."""
    from mmlib.bench import _bare_steps
    from mmlib.experiment import build_method

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        models, times, batches = {}, {}, None
        for method in methods:
            model, splits, config = build_method(chapter.experiment(dataset, method, kappa, 0, seeds=(0,)), 0)
            models[method] = model
            if batches is None:
                generator = torch.Generator().manual_seed(0)
                batches = list(splits.train.batches(config.batch_size, shuffle=True, generator=generator))
                batches = (batches * steps)[:steps]
        for model in models.values():  # one untimed step each: the first step of a model pays for allocations
            _bare_steps(model, batches[:1], chapter.lr)
        for _ in range(repeats):
            for method, model in models.items():
                times.setdefault(method, []).extend(_bare_steps(model, batches, chapter.lr))
    finally:
        torch.set_num_threads(threads)
    first = methods[0]
    parameters = {m: sum(p.numel() for p in model.parameters()) for m, model in models.items()}
    step = {m: float(np.median(t)) for m, t in times.items()}
    return pd.DataFrame({"parameters": parameters, "step (ms)": {m: 1e3 * s for m, s in step.items()},
                         "parameters ratio": {m: parameters[m] / parameters[first] for m in methods},
                         "time ratio": {m: step[m] / step[first] for m in methods}})


def _steps_per_run(chapter: Chapter, dataset: str) -> int:
    """Optimisation steps of one run on ``dataset`` at the chapter's profile: ceil(training samples / batch) per
    epoch, for the profile's epochs (a run that stops early takes fewer)."""
    from mmlib.experiment import prepared_splits

    train = prepared_splits(chapter.experiment(dataset, "transformer", 0.7, 0, seeds=(0,)), 0).train
    return -(-len(train) // chapter.training(dataset)["batch_size"]) * chapter.epochs(dataset)


def column_minutes(chapter: Chapter, dataset: str, cost: pd.DataFrame, kappas=(0.7,),
                   speedup: float = TWO_WORKER_SPEEDUP) -> float:
    """An estimate of what a Table 1 column of ``dataset`` costs at this profile, in minutes on two single-threaded
    workers (``speedup`` times as fast as one, :data:`TWO_WORKER_SPEEDUP`): every (absence seed, training seed) run
    of each model in ``cost`` (its measured step, :func:`step_cost`) for :func:`_steps_per_run` steps. Validation
    and test passes, and the start of each run, are left out."""
    runs = len(chapter.absence_seeds) * len(chapter.train_seeds) * len(kappas)
    return float(cost["step (ms)"].sum() / 1e3 * _steps_per_run(chapter, dataset) * runs / speedup / 60)


def chapter_minutes(chapter: Chapter, costs: dict[str, pd.DataFrame],
                    speedup: float = TWO_WORKER_SPEEDUP) -> pd.DataFrame:
    """An estimate of the training minutes of every grid of the chapter at its profile, per grid and dataset, on two
    single-threaded workers (``speedup`` times as fast as one): each run once (runs shared between grids, as Table
    1's default MGR and the ablations' "MGR", or Figure 5's runs, which are Table 1's, count once),
    :func:`_steps_per_run` steps of its model's measured step (``costs[dataset]``, :func:`step_cost`; MGR's variants
    at MGR's). Validation and test passes, and the start of each run, are left out, as in :func:`column_minutes`."""
    grids = {"Tables 1-2": chapter.main_settings(), "Tables 3-4": chapter.absence_settings_list(),
             "Tables 5-8, Figure 4": chapter.ablation_settings_list(), "learning-rate check": chapter.lr_settings()}
    steps = {dataset: _steps_per_run(chapter, dataset) for dataset in costs}
    seen, rows = set(), []
    for grid, settings in grids.items():
        for experiment in chapter.experiments(settings)[0]:
            for seed in experiment.seed_list():
                key = experiment.key(seed)
                if key not in seen:
                    seen.add(key)
                    seconds = costs[experiment.dataset].loc[experiment.method, "step (ms)"] / 1e3
                    rows.append(dict(grid=grid, dataset=experiment.dataset, seconds=steps[experiment.dataset] * seconds))
    table = pd.DataFrame(rows).groupby(["grid", "dataset"], sort=False).seconds.agg(["count", "sum"])
    return table.rename(columns={"count": "runs"}).assign(minutes=table["sum"] / speedup / 60).drop(columns="sum")


def left_out(chapter: Chapter) -> str:
    """What ``chapter``'s profile runs less of than ``paper`` (computed from the two grids), in words: Tables 1-2's
    datasets and kappas, AVLetters' tokens, Tables 3-4's settings, the ablation variants and the learning-rate
    check's datasets; "" at paper."""
    paper, parts = Chapter("paper"), []
    main = [f"{DATASET_NAMES.get(d, d)} at κ = {k:g}" for d, kappas in paper.main_datasets.items() for k in kappas
            if k not in chapter.main_datasets.get(d, ())]
    if main:
        parts.append("Tables 1-2 on " + ", ".join(main))
    methods = [m for m in paper.main_methods if m not in chapter.main_methods]
    if methods:
        parts.append("Tables 1-2's " + ", ".join(methods))
    tokens = [f"{DATASET_NAMES.get(d, d)} {chapter.frame_tokens(d)} tokens per modality, not {paper.frame_tokens(d)}"
              for d in chapter.main_datasets if chapter.frame_tokens(d) != paper.frame_tokens(d)]
    if tokens:
        parts.append("; ".join(tokens))
    ours, theirs = len(chapter.absence_settings_list()), len(paper.absence_settings_list())
    if ours < theirs:
        kappas = [f"{k:g}" for k in paper.absence_settings[2] if k not in chapter.absence_settings[2]]
        parts.append((f"Tables 3-4: {ours} of the {theirs} settings (κ, absence type, model)"
                      + (f", none at κ = {', '.join(kappas)}" if kappas else "")) if ours else
                     "Tables 3-4 (none of their settings)")
    variants = [v for v in paper.ablation_variants() if v not in chapter.ablation_variants()]
    if variants:
        parts.append("the ablation variants " + ", ".join(variants))
    settings = [s for s in paper.ablation_settings if s not in chapter.ablation_settings]
    if settings:
        parts.append("the ablations on " + ", ".join(f"{DATASET_NAMES.get(d, d)} at κ = {k:g}" for d, k in settings))
    lr = [DATASET_NAMES.get(d, d) for d in paper.lr_datasets if d not in chapter.lr_datasets]
    if lr:
        parts.append("the learning-rate check on " + ", ".join(lr))
    return "; ".join(parts)
