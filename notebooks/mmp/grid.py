"""The MMP chapter's settings, shared by its notebooks so that each is defined once.

The three models of the paper's Table I share one backbone (the ``transformer`` baseline, 4 tokens per vector
modality) and one recipe (AdamW, as the paper); they differ only in training: "Pretrained" = complete data,
"Dropout" = modality masking at p = 0.5, "MMP" = masking + projection + Eq. 6. Built with one seed, the three
start from the same backbone weights (MMP adds its projection to them); ``mmlib/methods/mmp.py`` trains MMP from
there, from scratch, not from a backbone first trained with modality dropout as the paper does. The paper's way
is run too, as a second stage (:func:`two_stage_run`, below).

**One budget.** Every model of the chapter, on every dataset (Tables I-V, the tokens of notebook 03), trains at
most the same number of epochs, with early stopping after 8 epochs without a better validation score and the
epoch kept chosen on validation under its own protocol (the library's patience and selection, the same for every
recipe of the chapter):

the backbone's width and tokens, the recipe, the epochs and what runs on which dataset are set per profile by
:class:`Chapter` below; :func:`profile_settings` computes the table of them that notebook 01 and the page show.

Why 10 at quick: mfeat (6 modalities, 63 subsets scored on validation every epoch, MMP four times as slow per
epoch as its backbone there) was the costliest set; it used to train 8 epochs where the other sets trained 15,
which gave the datasets of one Table I (and of one claim) different budgets; so every dataset and model of the
chapter gets 10, and the notebooks say, computed, how many runs kept their last epoch (under-trained at this
profile).

**What trains below paper (the chapter's 8 minutes at quick).** Measured as CPU seconds (``time.process_time``
around :func:`mmlib.experiment._run_seed`, seed 0 at quick settings, one thread, a private cache, on the shared
2-core machine), one seed of each kind of run costs: MSRC-v1 1.1-3.3 s a model (Table I: 7 s a seed), MOSI
4.7-11.3 s (21 s), AV-MNIST 11-17 s (40 s), MAPs on AV-MNIST 12 s, the seven CUB models of notebook 02 1.1-2.2 s
each (10 s), the second stages on MSRC-v1 about 3 s a seed; mfeat's Pretrained and Dropout 18 and 19 s, and its MMP,
four times as slow per epoch, about 2.5 minutes a seed (wall, the earlier report on the same machine): mfeat's
Table I cost more than the rest of the chapter together. Hence, below ``paper``: mfeat does not train
(:attr:`Chapter.table1_datasets`; Table I's claims are judged on the other datasets, each row saying so:
:meth:`Chapter.scoped`), the two-stage runs cover MSRC-v1 alone (:data:`TWO_STAGE_BELOW_PAPER`: the cheapest; on
the earlier quick runs over MSRC-v1 and MOSI, the headline claim, MMP ahead with a modality missing, came out the
same three ways on either alone as on both), and the token figure of notebook 03 reads Table III's CUB MMP
rather than training one of its own. At ``paper`` everything trains. So cut, the three notebooks at quick took
about 366, 53 and 82 CPU seconds from an empty cache (papermill, one thread, the shared machine under load:
notebook 01 as seed 0 alone plus seeds 1-4 with seed 0 read back): about 500 CPU
seconds, some 6.4 minutes of wall time on the 2-core CPU (two single-threaded workers give about 1.3 times one).

**Tokens.** Table I runs on AV-MNIST too (:data:`TOKEN_DATASETS`: an MNIST image and the MFCC frames of a spoken
digit), where a modality's tokens are its encoder's own: a 2 x 2 grid of convolutional features of the image, the
means over 4 spans of audio frames; on the vector stand-ins a token is one slice of an MLP's output.

**Table II** (MMP against the book's other methods) runs on AV-MNIST under Table I's protocol. At ``quick`` only
:data:`TABLE2_QUICK` trains. Measured on the 2-core CPU while four other jobs shared it (seed 0 at quick settings,
each run alone in one single-threaded process, from an empty cache), one AV-MNIST run took 11 s for Pretrained, 8 s
for Dropout, 12 s for MMP (Table I on AV-MNIST: about 32 s a seed, 2.6 minutes for five), 17 s for MAPs, 27 s for
MGR, 39 s for MCE, 51 s for DREAM and 65 s for CMPT (the last three with the sub-models they pre-train). Five seeds
of all five would add about 16.5 minutes of training; MAPs alone adds 1.4 (MGR would add 2.2 more), which with
Table I's AV-MNIST runs is what the chapter's 8 minutes leave room for.

**Two stages: the paper's protocol.** The paper starts MMP from a backbone trained with modality dropout. Here
that is a second stage: each Table I model continues from the weights kept by a first-stage model of the same
budget: MMP from Dropout's (the very model of the Dropout column: its kept weights, read back), Dropout from its
own, Pretrained from its own. Every two-stage model so trains up to twice the epochs of a
one-stage model: compared with the one-stage Dropout and Pretrained (the paper's comparison), MMP gets one
budget more; compared with the two-stage Dropout and Pretrained, all have the same budget, and MMP and Dropout
start from the same pre-trained weights.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mmlib.experiment import (Experiment, build_method, check_budgets, map_in_workers, records, score_run, trained,
                              training_config, validation_sets)
from mmlib.methods.mmp import MMP_RECIPE
from mmlib.store import Record, load_record, save_record
from mmlib.train import fit, resolve_device, validation_score

LABELS = {"transformer": "Pretrained", "transformer_dropout": "Dropout", "mmp": "MMP",
          "mmp_lp": "Dropout + LP", "mmp_lp_align": "Dropout + LP + Align",
          "dream": "DREAM", "cmpt": "CMPT", "mgr": "MGR", "mce": "MCE", "maps": "MAPs"}
TABLE1_METHODS = ["transformer", "transformer_dropout", "mmp"]
#: Table I's datasets with real images or sequences (the encoders' own tokens: an image's grid of convolutional
#: features, a sequence's spans of frames), beside the vector stand-ins (mfeat, MSRC-v1, MOSI: slices of an MLP)
TOKEN_DATASETS = ("avmnist",)

# Table II on AV-MNIST: the book's other missing-modality methods under Table I's protocol, and what each profile runs
TABLE2_DATASET = "avmnist"
TABLE2_METHODS = ["dream", "cmpt", "mgr", "mce", "maps"]
#: MAPs learns one prompt per missing case, which complete training data never shows it: it trains on the
#: missing-both setting of Table III (35% of samples without the image, 35% without the audio)
TABLE2_MAPS_TRAINING = "absent:image=0.35,audio=0.35"
#: the Table II methods trained at ``quick``: those whose five seeds fit the chapter's 8 minutes beside Table I
TABLE2_QUICK = ("maps",)
#: Figure 3: how many AV-MNIST test samples it shows, and the subsets it predicts them under
FIGURE3_SAMPLES = 4
FIGURE3_CONDITIONS = ("image+audio", "image", "audio")
QUICK_EPOCHS = 10  # every model and dataset of the chapter at quick (see above)

# Table III and V on CUB: the grid's test protocols, the ablation's models, missing-aware prompts
CUB_PROTOCOLS = ("subsets", "absent:text=0.7", "absent:image=0.35,text=0.35", "absent:image=0.7")
ABLATION = ["transformer_dropout", "mmp_lp", "mmp_lp_align", "mmp"]
PROMPTS = {"input": "Prompts (input)", "attention": "Prompts (attention)"}
PROMPTS_TRAINING = "absent:image=0.35,text=0.35"  # the missing-both setting the prompts learn from

# Two stages: the model each Table I model starts from, and the labels of the two-stage models
START = {"transformer": "transformer", "transformer_dropout": "transformer_dropout", "mmp": "transformer_dropout"}
#: the two-stage runs' dataset below paper (the module's docstring says why this one)
TWO_STAGE_BELOW_PAPER = ("msrc",)
TWO_STAGE_LABELS = {"transformer": "Pretrained, continued", "transformer_dropout": "Dropout, continued",
                    "mmp": "MMP from Dropout"}


@dataclass(frozen=True)
class Chapter:
    """The notebooks' parameters, and what they imply."""

    profile: str = "quick"
    seeds: tuple[int, ...] | None = None  # None: the profile's
    device: str = "auto"
    data_dir: str | None = None

    @property
    def model(self) -> dict:
        return dict(d_model=64 if self.profile == "paper" else 32, num_tokens=4)

    @property
    def training(self) -> dict:
        if self.profile == "paper":
            return dict(batch_size=64, lr=1e-3, optimizer="adamw", weight_decay=1e-2)
        return dict(batch_size=128, lr=2e-3, optimizer="adamw", weight_decay=1e-2)

    @property
    def epochs(self) -> int:
        """The epoch budget of every model and dataset of the chapter at this profile (the table above)."""
        return {"smoke": 2, "quick": QUICK_EPOCHS}.get(self.profile, MMP_RECIPE.epochs)

    def experiment(self, dataset: str, method: str, protocols=("subsets",), train_protocol: str | None = None,
                   **options) -> Experiment:
        """``method`` on ``dataset`` with the chapter's backbone, recipe and budget, scored under each test
        protocol."""
        return Experiment(dataset, method, seeds=None if self.seeds is None else tuple(self.seeds),
                          test_protocols=tuple(protocols), train_protocol=train_protocol, profile=self.profile,
                          method_options={**self.model, **options},
                          train_options={**self.training, "epochs": self.epochs},
                          device=self.device, data_dir=self.data_dir)

    # ------------------------------------------------------------------------------------------ the grids
    @property
    def table1_datasets(self) -> tuple[str, ...]:
        """Table I's datasets: the vector stand-ins and AV-MNIST (real image and audio frames, :data:`TOKEN_DATASETS`,
        at every profile); mfeat (63 subsets) only at paper (the chapter's CPU budget: the module's docstring)."""
        vectors = ("mfeat", "msrc", "mosi") if self.profile == "paper" else ("msrc", "mosi")
        return vectors + TOKEN_DATASETS

    def scoped(self, claim):
        """``claim`` on the datasets this profile trains: a claim judged on Table I's runs (notebook 01) that names a
        dataset of the paper profile's Table I not trained here (mfeat below ``paper``) is judged on the others, its
        note saying which was left out and why; every other claim, and every claim at ``paper``, as declared (the
        cost claims of notebook 03 time mfeat at every profile)."""
        from dataclasses import replace as _replace

        if not claim.datasets or not claim.notebook.startswith("mmp/01"):
            return claim
        left_out = [d for d in claim.datasets if d in Chapter("paper").table1_datasets and d not in self.table1_datasets]
        kept = tuple(d for d in claim.datasets if d not in left_out)
        if not left_out or not kept:
            return claim
        note = (f"at profile {self.profile} on {', '.join(kept)}: {', '.join(left_out)} trains only at paper "
                "(the chapter's CPU budget, grid.py)")
        return _replace(claim, datasets=kept, note="; ".join(filter(None, [claim.note, note])))

    @property
    def table2_methods(self) -> list[str]:
        """Table II's other methods at this profile: every one at smoke (a check that they run) and paper, those of
        :data:`TABLE2_QUICK` at quick (the chapter's CPU budget)."""
        return [m for m in TABLE2_METHODS if self.profile != "quick" or m in TABLE2_QUICK]

    def table2(self) -> list[Experiment]:
        """Table II: MMP and Table I's other two trainings on AV-MNIST (the very runs of Table I) beside the book's
        other methods at this profile, one comparison (one budget), every one trained on complete data except
        MAPs (:data:`TABLE2_MAPS_TRAINING`) and tested on every subset."""
        return ([self.experiment(TABLE2_DATASET, m) for m in TABLE1_METHODS]
                + [self.experiment(TABLE2_DATASET, m, train_protocol=TABLE2_MAPS_TRAINING if m == "maps" else None)
                   for m in self.table2_methods])

    @property
    def two_stage_datasets(self) -> tuple[str, ...]:
        """The two-stage runs' datasets: every Table I dataset at paper; below it MSRC-v1 alone (the cheapest: see
        the module's docstring)."""
        return self.table1_datasets if self.profile == "paper" else TWO_STAGE_BELOW_PAPER

    def table1(self) -> list[Experiment]:
        """Table I (and IV): the three trainings on every subset of each dataset; one comparison."""
        return [self.experiment(d, m) for d in self.table1_datasets for m in TABLE1_METHODS]

    def cub(self) -> tuple[list[Experiment], list[str]]:
        """Tables III and V on CUB, one comparison: the backbone, the ablation's models and both kinds of
        missing-aware prompts (trained on the missing-both setting); with each one's label."""
        models = [self.experiment("cub", m, CUB_PROTOCOLS) for m in ["transformer"] + ABLATION]
        prompts = [self.experiment("cub", "maps", CUB_PROTOCOLS, train_protocol=PROMPTS_TRAINING, insertion=i)
                   for i in PROMPTS]
        return models + prompts, [LABELS[e.method] for e in models] + list(PROMPTS.values())

    def two_stage(self) -> list[Experiment]:
        """The second stages of the Table I models (see :func:`two_stage_run`); one comparison."""
        return [self.experiment(d, m) for d in self.two_stage_datasets for m in TABLE1_METHODS]

    # ------------------------------------------------------------------------------------------ running
    def run(self, experiments, labels=None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Tidy results and per-epoch histories of ``experiments``, trained side by side (once per seed, read
        from the cache afterwards; one budget, else ValueError); the column ``model`` holds each one's label
        (default: its method's, from ``LABELS``)."""
        experiments = list(experiments)
        labels = labels or [LABELS[e.method] for e in experiments]
        runs = records(experiments)
        return (pd.concat([r.results.assign(model=label) for r, label in zip(runs, labels)], ignore_index=True),
                pd.concat([r.history.assign(model=label) for r, label in zip(runs, labels)], ignore_index=True))

    def run_two_stage(self, experiments=None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:func:`two_stage_run` for every seed of ``experiments`` (default :meth:`two_stage`), side by side:
        tidy results and second-stage histories, labelled with ``TWO_STAGE_LABELS``."""
        experiments = list(self.two_stage() if experiments is None else experiments)
        check_budgets(experiments)
        check_budgets([replace(e, method=START[e.method]) for e in experiments])
        # first every run that starts from its own one-stage run, then MMP's: a first stage not in the cache yet is
        # trained once (and kept)
        jobs = sorted(((e, s) for e in experiments for s in e.seed_list()), key=lambda job: job[0].method == "mmp")
        done = list(map_in_workers(two_stage_run, *zip(*jobs)))
        runs = [Record.concat(r for (e2, _), r in zip(jobs, done) if e2 is e) for e in experiments]
        labels = [TWO_STAGE_LABELS[e.method] for e in experiments]
        return (pd.concat([r.results.assign(model=label) for r, label in zip(runs, labels)], ignore_index=True),
                pd.concat([r.history.assign(model=label) for r, label in zip(runs, labels)], ignore_index=True))


def profile_settings() -> pd.DataFrame:
    """What each profile runs in this chapter, computed from :class:`Chapter` (one column per profile)."""
    from mmlib.experiment import profile_named

    rows = {}
    for name in ("smoke", "quick", "paper"):
        chapter = Chapter(name)
        rows[name] = {"d (width of every token)": chapter.model["d_model"],
                      "tokens per vector modality": chapter.model["num_tokens"],
                      "tokens per image (the encoder's own)": "{0} x {0} grid of convolutional features".format(
                          int(round(chapter.model["num_tokens"] ** 0.5))),
                      "tokens per sequence (the encoder's own)": f"means over {chapter.model['num_tokens']} spans of frames",
                      "optimiser, batch, lr": f"{chapter.training['optimizer']}, {chapter.training['batch_size']}, "
                                              f"{chapter.training['lr']:g}",
                      "epochs (every model and dataset)": chapter.epochs,
                      "seeds": len(profile_named(name).seeds),
                      "Table I datasets": ", ".join(chapter.table1_datasets),
                      "two-stage datasets": ", ".join(chapter.two_stage_datasets),
                      "Table II methods (AV-MNIST)": ", ".join(LABELS[m] for m in chapter.table2_methods)}
    return pd.DataFrame(rows)


def availability(results: pd.DataFrame) -> pd.DataFrame:
    """Table I's claim table: the condition ``complete`` (every modality of the dataset) or ``incomplete``, the
    modality subset in a column of its own (``subset``)."""
    size = results.condition.str.count(r"\+") + 1
    complete = size == size.groupby(results.dataset).transform("max")
    return results.rename(columns={"condition": "subset"}).assign(condition=np.where(complete, "complete", "incomplete"))


def projection_ablation(experiment: Experiment, seed: int) -> pd.DataFrame:
    """Where the projection helps: one trained MMP run (read back, :func:`mmlib.experiment.trained`) and its scores
    (method ``mmp``), beside the same weights scored as the run was (its test protocols and mask seed,
    :func:`mmlib.experiment.score_run`) with a missing modality given the backbone's missing-modality embedding
    instead of its projection (method ``mmp_missing_embedding``, ``MMP.fill_missing``). Only inference differs.
    Computed once and kept (:func:`mmlib.trained.compute_once`): mfeat's 63 subsets take a while to score."""
    from mmlib.trained import compute_once, fingerprint

    def compute():
        method, splits, record = trained(experiment, seed)
        method.fill_missing = "missing_embedding"
        embedded = score_run(experiment, seed, method, splits, []).results.assign(method="mmp_missing_embedding")
        return pd.concat([record.results, embedded], ignore_index=True)

    return compute_once("mmp-projection-ablation", (experiment.key(seed), fingerprint(inspect.getsource(
        projection_ablation))), compute)


def predictions(experiment: Experiment, seed: int, indices, conditions=FIGURE3_CONDITIONS) -> pd.DataFrame:
    """Figure 3: the trained run's (read back) predicted class and its probability for the test samples ``indices``
    under each modality subset in ``conditions`` (the other modalities removed); one row per sample and
    condition."""
    import torch

    from mmlib.missing import parse_protocol
    from mmlib.train import predict

    method, splits, _ = trained(experiment, seed)
    test = splits.test.subset(torch.as_tensor(list(indices)))
    subsets = parse_protocol("subsets", splits.spec)
    rows = []
    for condition in conditions:
        probability = predict(method, subsets.apply(test, condition, seed), device=next(method.parameters()).device
                              ).softmax(-1).cpu()
        for k, index in enumerate(indices):
            rows.append({"method": experiment.method, "condition": condition, "index": int(index),
                         "label": int(test.y[k]), "prediction": int(probability[k].argmax()),
                         "probability": float(probability[k].max())})
    return pd.DataFrame(rows)


def _source_hash() -> str:
    """The two-stage code's own version: its records are recomputed when it changes (the library's version is in
    every experiment's key)."""
    source = inspect.getsource(two_stage_run) + inspect.getsource(_first_stage)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _first_stage(experiment: Experiment, seed: int):
    """The model ``experiment``'s method starts from (``START``): the one-stage run of that method (same
    experiment, seed and budget), its kept weights read back from the results cache, trained only if they are not
    there yet (:func:`mmlib.experiment.trained`). Returns it and the validation score of its kept weights."""
    first = replace(experiment, method=START[experiment.method])
    method, splits, _ = trained(first, seed)
    sets = validation_sets(first, splits, seed)
    device = resolve_device(experiment.device)
    return method, validation_score(method.to(device), sets, device)


def two_stage_run(experiment: Experiment, seed: int) -> Record:
    """The paper's protocol for one run: ``experiment``'s method trained, under its own budget, from the weights
    kept by its first stage (:func:`_first_stage`: MMP from Dropout, the others from themselves), then scored as
    a one-stage run is. The record's history is the second stage's, with the first stage's method (``start``),
    the validation score of its kept weights (``start_val_score``) and its budget (``start_epochs_allowed``).
    Kept in the results cache under a key of its own."""
    first = replace(experiment, method=START[experiment.method])
    key = "two-stage-" + hashlib.sha256(json.dumps(
        [experiment.key(seed), first.key(seed), _source_hash()]).encode()).hexdigest()[:20]
    cached = load_record(key)
    if cached is not None:
        return cached
    start, start_score = _first_stage(experiment, seed)
    method, splits, config = build_method(experiment, seed)
    missing, unexpected = method.load_state_dict(start.state_dict(), strict=False)
    if unexpected or any(not name.startswith(("attention.", "heads.")) for name in missing):
        raise RuntimeError(f"{first.method} is not {experiment.method}'s backbone: {missing} {unexpected}")
    history = fit(method, splits.train, splits.val, config, select_on=validation_sets(experiment, splits, seed))
    record = score_run(experiment, seed, method, splits, history)
    record.history = record.history.assign(start=first.method, start_val_score=start_score,
                                           start_epochs_allowed=training_config(first, seed).epochs)
    save_record(key, record)
    return record


def mean_std(values) -> str:
    """'mean ± std' in percent over seeds."""
    values = 100 * np.asarray(values, dtype=float)
    return f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.2f}"
