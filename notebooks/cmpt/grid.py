"""Helpers shared by the CMPT chapter's notebooks, defined once: the training budget, the experiments each notebook
runs (built here so that their budgets can be checked without training), the mean ± std display, the availability
settings of Tables 1 and 6, the tidy table a claim is judged on, judging a notebook's claims and the computed
sentence on how many runs kept their last allowed epoch.

The claims themselves are declared in ``paper_claims.py`` and judged by :mod:`mmlib.claims`; nothing here decides
a verdict. Seeds are the profile's (:data:`mmlib.experiment.PROFILES`) unless a notebook is given ``seeds``.

**One budget for every model of the chapter.** Every experiment below, CMPT, its no-proxy ablations and the
book's baselines alike, trains with ``train_options`` holding :data:`TRAINING`: CMPT's recipe epochs (the paper's
Table 5, image-text column: 10 epochs), capped by the profile (:func:`mmlib.experiment.training_config`), with the
patience (8) and selection rule ("protocol": the best validation epoch under the experiment's own protocol) that
every recipe of the book shares. The baselines' own recipe is 30 epochs; they are given CMPT's 10 so that a gap
between two models of one table is never a gap between two budgets (:func:`mmlib.experiment.records` refuses
models of one dataset trained under different budgets in one call, and each notebook runs all its models in one
call).

What each profile runs (seeds, epochs, samples, datasets, recipes) is computed by :func:`profile_table`, which the
page shows; the one exception to the image-text recipe: notebook 01's AVLetters runs follow Table 5's audio-video
column (100 epochs, lr 5e-5, batch 4; the baselines get its epochs) wherever the profile's epoch cap allows it
(:func:`availability_training`), one budget per dataset still.

The premise (notebook 02): :func:`premise` measures how close each trained CMPT's proxies come to the class tokens
they stand for (:func:`mmlib.methods.cmpt.proxy_fidelity`), and :func:`premise_verdicts` compares them with the
two references by :func:`mmlib.claims.compare`.

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
from mmlib.experiment import PROFILES, Experiment, profile_named, records, summarize, trained
from mmlib.methods.cmpt import CMPT, proxy_fidelity
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
#: notebook 01's datasets, and which of their modalities plays the paper's image and text: on AVLetters the lip video
#: (the visual modality, as the image) and the speech (as the text)
AVAILABILITY_ROLES = {"cub": {"image": "image", "text": "text"}, "avletters": {"image": "video", "text": "audio"}}


def availability(dataset: str) -> dict[str, dict[str, float]]:
    """The three settings on ``dataset`` (label: availability per modality), its modalities in the paper's roles."""
    roles = AVAILABILITY_ROLES[dataset]
    return {label: {roles[name]: share for name, share in shares.items()} for label, shares in AVAILABILITY.items()}


#: per dataset: the paper's label of a setting -> the protocol string, and back
PROTOCOLS = {dataset: {label: SingleAbsence.availability(shares).label for label, shares in availability(dataset).items()}
             for dataset in AVAILABILITY_ROLES}
PROTOCOL = PROTOCOLS["cub"]
SETTING = {(dataset, text): label for dataset, part in PROTOCOLS.items() for label, text in part.items()}


def shown_setting(dataset: str, label: str) -> str:
    """A setting's label in ``dataset``'s own modality names ("video 30%, audio 100%" on AVLetters)."""
    for role, name in AVAILABILITY_ROLES[dataset].items():
        label = label.replace(role, name.upper())
    return label.lower()


#: how the pages name the chapter's datasets
DATASET_NAMES = {"cub": "CUB", "avletters": "AVLetters", "avmnist": "AV-MNIST", "mosi": "MOSI"}

#: the paper's Table 5, audio-video column (CREMA-D, Kinetics-Sound, AVE): CMPT's recipe on AVLetters in notebook 01
#: wherever the profile's epoch cap allows its 100 epochs (at ``paper``); the baselines get its epochs, not its lr
AV_RECIPE = {"epochs": 100, "lr": 5e-5, "batch_size": 4}

#: notebook 01's models (label: method, method options). "no proxy" is CMPT's network without proxy tokens on the
#: same pre-trained encoders (the options of notebook 02's "modality dropout"; the training split is incomplete
#: here, so neither it nor CMPT applies modality dropout)
TRAINING_MODELS = {"cmpt": ("cmpt", {}), paper_claims.SAME_ENCODERS_TRAINING: ("cmpt", {"use_cmpt": False}),
                   **{name: (name, {}) for name in paper_claims.BASELINES}}
assert set(TRAINING_MODELS) >= set(paper_claims.BY_ID["cmpt.table6"].comparators())

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


def av_recipe_fits(profile: str) -> bool:
    """Whether the profile's epoch cap allows the audio-video recipe's epochs (:data:`AV_RECIPE`)."""
    cap = profile_named(profile).max_epochs
    return cap is None or cap >= AV_RECIPE["epochs"]


def availability_training(dataset: str, method: str, profile: str) -> dict:
    """The ``train_options`` of a notebook-01 model: the chapter's budget (:data:`TRAINING`), except on AVLetters where
    the audio-video recipe fits the profile: its epochs for every model, its lr and batch for CMPT's network."""
    if dataset != "avletters" or not av_recipe_fits(profile):
        return {}
    return dict(AV_RECIPE) if method == "cmpt" else {"epochs": AV_RECIPE["epochs"]}


#: the profiles at which notebook 01 runs AVLetters besides CUB: every one (issue 17: the chapter's main tables on
#: real sequences at quick too). Left out of quick during issue 16, when the chapter with it took 9.1 minutes on the
#: 2-core CPU; re-measured in issue 17 (two runs side by side, from an empty cache, idle CPU), the README gives the time
AVAILABILITY_AV_PROFILES = ("smoke", "quick", "paper")


def availability_datasets(profile: str) -> list[str]:
    """Notebook 01's datasets: CUB (vectors) at every profile, and AVLetters (speech and lip frames: real sequences,
    whose time spans give each encoder tokens to attend over) at :data:`AVAILABILITY_AV_PROFILES`."""
    return ["cub"] + (["avletters"] if profile in AVAILABILITY_AV_PROFILES else [])


def availability_runs(seeds=None, profile="quick", device="auto", data_dir=None, models=TRAINING_MODELS,
                      datasets=None) -> list[Run]:
    """Notebook 01 (Tables 1 and 6): each model trained at each availability setting on each dataset
    (:func:`availability_datasets`) and tested at all three; tagged with its training setting (column ``train``,
    the paper's label)."""
    options = dict(seeds=seeds, profile=profile, device=device, data_dir=data_dir)
    return [Run(label, experiment(dataset, method, method_options, availability_training(dataset, method, profile),
                                  test_protocols=tuple(PROTOCOLS[dataset].values()),
                                  train_protocol=PROTOCOLS[dataset][train], **options), {"train": train})
            for dataset in (datasets or availability_datasets(profile)) for train in AVAILABILITY
            for label, (method, method_options) in models.items()]


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


# ------------------------------------------------------------------------------------- the premise, measured
def premise_runs(seeds=None, profile="quick", device="auto", data_dir=None) -> list[Run]:
    """The CMPT runs of notebook 02 (trained on complete data) whose proxies :func:`premise` measures: one per
    dataset (CUB, the audio-video sets, MOSI), exactly as :func:`test_runs` trains them."""
    return [run for run in test_runs(seeds, profile, device, data_dir) if run.label == "CMPT"]


def premise(runs: list[Run]) -> pd.DataFrame:
    """:func:`mmlib.methods.cmpt.proxy_fidelity` of every run and seed (its trained model read back by
    :func:`mmlib.experiment.trained`, never trained again when cached), with ``dataset``, ``seed`` and ``model``
    (the run's label) columns."""
    tables = []
    for run in runs:
        for seed in run.experiment.seed_list():
            method, splits, _ = trained(run.experiment, seed)
            table = proxy_fidelity(method, splits.train, splits.val, splits.test)
            tables.append(table.assign(dataset=run.experiment.dataset, seed=seed, model=run.label))
    return pd.concat(tables, ignore_index=True)


#: the references of :func:`mmlib.methods.cmpt.proxy_fidelity`, in the order the tables show them
REFERENCES = ("proxy", "training mean", "linear regression")


def alignment_sentence(history: pd.DataFrame, table: pd.DataFrame, names: dict[str, str] | None = None) -> str:
    """Eq. 4 during training, from the CMPT runs' per-epoch histories (``history``: their ``loss_align``, which is
    the weighted sum over ordered pairs), per ordered pair and unweighted, at the first epoch, the kept one and the
    last one, beside the proxies' MSE on the test split and the training mean's (``table``, from :func:`premise`)."""
    import inspect

    weight = inspect.signature(CMPT).parameters["align_weight"].default
    names = names or {}
    parts = []
    for dataset in dict.fromkeys(table.dataset):
        runs = history[history.dataset == dataset]
        pairs = table[table.dataset == dataset][["present", "stands_for"]].drop_duplicates().shape[0]
        per_pair = runs.assign(value=runs.loss_align / weight / pairs)
        first = per_pair[per_pair.epoch == 0].value.mean()
        kept = per_pair[per_pair.kept.astype(bool)].value.mean()
        last = per_pair[per_pair.epoch == per_pair.groupby("seed").epoch.transform("max")].value.mean()
        mse = table[(table.dataset == dataset) & (table.metric == "mse")].groupby("reference").value.mean()
        parts.append(f"on {names.get(dataset, dataset)}, {first:.2f} at the first epoch, {kept:.2f} at the kept one "
                     f"and {last:.2f} at the last (the proxies' test MSE: {mse['proxy']:.2f}; the training mean's: "
                     f"{mse['training mean']:.2f})")
    return ("Eq. 4's MSE on the training split, per ordered pair (mean over seeds; with modality dropout and "
            "dropout on, as trained): " + "; ".join(parts) + ".")


def premise_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """The proxy against each reference, per dataset and metric, by :func:`mmlib.claims.compare` (not a claim of the
    paper: a measurement of its premise): the difference averaged over the ordered pairs within each seed, its 95%
    interval over seeds; "supported" means the proxy is closer to the real class token (higher cosine, lower MSE)."""
    rows = []
    for dataset in dict.fromkeys(table.dataset):
        for metric in ("cosine", "mse"):
            part = table[(table.dataset == dataset) & (table.metric == metric)]
            tidy_part = part.assign(method=part.reference, condition=part.present + "->" + part.stands_for)
            for reference in REFERENCES[1:]:
                verdict = claims.compare(tidy_part[["method", "seed", "dataset", "condition", "value"]], "proxy",
                                         reference, lower_is_better=metric == "mse")
                rows.append(dict(dataset=dataset, metric=metric, reference=reference, verdict=verdict.verdict,
                                 difference=verdict.interval(scale=1, digits=3, unit=""), n=verdict.n))
    return pd.DataFrame(rows)


def premise_sentence(table: pd.DataFrame, verdicts: pd.DataFrame, names: dict[str, str] | None = None) -> str:
    """One sentence per dataset, from the numbers: the proxies' mean cosine similarity beside the references', and
    whether the proxy is closer than each reference by both measures (:func:`premise_verdicts`)."""
    names = names or {}
    closeness = {"supported": "closer to the class token than", "contradicted": "farther from the class token than",
                 "inconclusive": "not distinguishable (95% interval over seeds) from"}
    sentences = []
    for dataset in dict.fromkeys(table.dataset):
        cosine = table[(table.dataset == dataset) & (table.metric == "cosine")].groupby("reference").value.mean()
        judged = verdicts[verdicts.dataset == dataset].set_index(["reference", "metric"]).verdict
        parts = []
        for reference in REFERENCES[1:]:
            by_cosine, by_mse = judged[reference, "cosine"], judged[reference, "mse"]
            how = (f"{closeness.get(by_cosine, by_cosine)} the {reference} by both measures" if by_cosine == by_mse
                   else f"{closeness.get(by_cosine, by_cosine)} the {reference} by cosine and "
                        f"{closeness.get(by_mse, by_mse)} it by MSE")
            parts.append(how)
        seeds = table[table.dataset == dataset].seed.nunique()
        sentences.append(
            f"On {names.get(dataset, dataset)}, the proxies' mean cosine similarity to the class token they stand "
            f"for is {cosine['proxy']:.2f} (training mean {cosine['training mean']:.2f}, linear regression "
            f"{cosine['linear regression']:.2f}; {seeds} seed{'s' if seeds != 1 else ''}): the proxy is "
            f"{parts[0]}, and {parts[1]}.")
    return " ".join(sentences)


# ------------------------------------------------------------------------------------- what each profile changes
def profile_table() -> pd.DataFrame:
    """What each profile of :data:`mmlib.experiment.PROFILES` runs in this chapter, computed from the profile and this
    module (the page shows it instead of stating it): seeds, every model's epochs, the samples used, the datasets of
    each notebook and the recipe of notebook 01's AVLetters runs."""
    rows = []
    for name, profile in PROFILES.items():
        epochs = EPOCHS if profile.max_epochs is None else min(EPOCHS, profile.max_epochs)
        av_epochs = AV_RECIPE["epochs"] if av_recipe_fits(name) else epochs
        rows.append({
            "profile": name,
            "seeds": len(profile.seeds),
            "epochs (every model but notebook 01's AVLetters)": epochs,
            "training samples": "all" if profile.max_train is None else f"at most {profile.max_train}",
            "test samples": "all" if profile.max_eval is None else f"at most {profile.max_eval}",
            "notebook 01 datasets": ", ".join(availability_datasets(name)),
            "AVLetters recipe in notebook 01": (
                "not run at this profile" if "avletters" not in availability_datasets(name) else
                f"Table 5 audio-video: {av_epochs} epochs, lr {AV_RECIPE['lr']:g}, batch {AV_RECIPE['batch_size']}"
                if av_recipe_fits(name) else
                f"image-text ({epochs} epochs): the cap of {profile.max_epochs} epochs is under the audio-video "
                f"column's {AV_RECIPE['epochs']}"),
            "notebook 02 datasets": ", ".join(["cub", *av_datasets(name), "mosi"]),
            "AV-MNIST image encoder pre-trained on spare digits": "run" if name in DISJOINT_PROFILES else "not run",
        })
    return pd.DataFrame(rows).set_index("profile")


# ------------------------------------------------------------------------------ encoders pre-trained on disjoint data
#: the source of data disjoint from AV-MNIST's splits (mmlib.data.spare): its spare MNIST digits, for the image encoder
DISJOINT_SOURCE = "avmnist-spare-digits"
#: CMPT and its no-proxy ablation on AV-MNIST, each with its encoders pre-trained on the training split (as everywhere
#: else) and with the image encoder pre-trained on the spare digits instead
DISJOINT_MODELS = {
    "CMPT": VARIANTS["CMPT"], paper_claims.SAME_ENCODERS: VARIANTS[paper_claims.SAME_ENCODERS],
    "CMPT, spare-digit encoder": {**VARIANTS["CMPT"], "pretrain_source": DISJOINT_SOURCE},
    f"{paper_claims.SAME_ENCODERS}, spare-digit encoder": {**VARIANTS[paper_claims.SAME_ENCODERS],
                                                           "pretrain_source": DISJOINT_SOURCE},
}
#: where the comparison runs: at ``paper``, beside the rest of AV-MNIST, and at ``smoke`` as a check that it runs; not
#: at ``quick``, whose CPU budget AV-MNIST's 2,430 training pairs at batch 8 do not fit (:func:`av_datasets`)
DISJOINT_PROFILES = ("smoke", "paper")


def disjoint_runs(seeds=None, profile="quick", device="auto", data_dir=None) -> list[Run]:
    """The AV-MNIST runs of the disjoint pre-training comparison (:data:`DISJOINT_MODELS`), tagged with where the image
    encoder was pre-trained (column ``image encoder``); none where the profile does not run it. At ``paper`` the
    two trained with the training split's encoders are those of :func:`test_runs` (read from the cache)."""
    if profile not in DISJOINT_PROFILES:
        return []
    options = dict(seeds=seeds, profile=profile, device=device, data_dir=data_dir)
    return [Run(label, experiment("avmnist", "cmpt", o, **options),
                {"image encoder": "spare digits" if "pretrain_source" in o else "training split"})
            for label, o in DISJOINT_MODELS.items()]


def disjoint_sentence(results: pd.DataFrame, profile: str, fidelity: pd.DataFrame | None = None) -> str:
    """What changes when AV-MNIST's image encoder is pre-trained on the spare digits, from the runs' accuracies
    (``results``: :func:`run_labelled` of :func:`disjoint_runs`): CMPT's accuracy per test subset with each encoder,
    and CMPT minus the no-proxy ablation averaged over the incomplete subsets within each seed
    (:func:`mmlib.claims.compare`, 95% interval over seeds), with each encoder; with ``fidelity`` (:func:`premise` of
    the two CMPT runs), the proxies' mean cosine similarity to the class token they stand for with each. Where the
    profile does not run the comparison, says so."""
    if results is None or results.empty:
        where = " and ".join(f"`{p}`" for p in DISJOINT_PROFILES)
        return (f"Not run at profile `{profile}`: the comparison runs at {where} only (AV-MNIST's training pairs at "
                f"CMPT's batch of 8 do not fit this profile's CPU budget).")
    accuracy = results[results.metric == "accuracy"]
    parts, gaps = [], []
    for encoder in ("training split", "spare digits"):
        part = accuracy[accuracy["image encoder"] == encoder]
        cmpt_label = "CMPT" if encoder == "training split" else "CMPT, spare-digit encoder"
        ablation = [m for m in set(part.method) if m != cmpt_label][0]
        means = part[part.method == cmpt_label].groupby("condition").value.mean()
        parts.append(f"{encoder}: " + ", ".join(f"{100 * v:.1f}% with {c}" for c, v in means.items()))
        incomplete = part[part.condition != "image+audio"]
        verdict = claims.compare(tidy(incomplete, metric=None).replace({"method": {ablation: "ablation"}}),
                                 cmpt_label, "ablation")
        gaps.append(f"{verdict.interval()} with the image encoder pre-trained on the {encoder}")
    seeds = accuracy.seed.nunique()
    text = (f"CMPT's test accuracy on AV-MNIST ({seeds} seed{'s' if seeds != 1 else ''}), with the image encoder "
            f"pre-trained on the {parts[0]}; on the {parts[1]}. CMPT minus the same network without proxy tokens, "
            f"on the incomplete test subsets: " + "; ".join(gaps) + ".")
    if fidelity is not None and not fidelity.empty:
        cosine = fidelity[fidelity.metric == "cosine"].groupby(["model", "reference"]).value.mean()
        text += " The proxies' mean cosine similarity to the class token they stand for: " + "; ".join(
            f"{cosine[model, 'proxy']:.2f} (training mean {cosine[model, 'training mean']:.2f}, linear regression "
            f"{cosine[model, 'linear regression']:.2f}) with the image encoder pre-trained on the {encoder}"
            for model, encoder in (("CMPT", "training split"), ("CMPT, spare-digit encoder", "spare digits"))
            if (model, "proxy") in cosine.index) + "."
    return text
