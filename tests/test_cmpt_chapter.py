"""The CMPT chapter's own code (notebooks/cmpt/grid.py): notebook 01 runs every baseline on CUB and AVLetters under
one budget per dataset, the audio-video recipe only where the profile allows it, and the table of profiles says so."""
import pandas as pd

from mmlib.experiment import PROFILES, check_budgets, training_config

from mmbook.cmpt import grid, paper_claims


def test_notebook_01_runs_every_comparator_of_its_claims_on_each_dataset():
    runs = grid.availability_runs(profile="paper")
    for claim_id in ("cmpt.table1", "cmpt.table6", "cmpt.table1_same_encoders", "cmpt.table6_same_encoders",
                     "cmpt.table1_avletters", "cmpt.table6_avletters_same_encoders"):
        claim = paper_claims.BY_ID[claim_id]
        for dataset in claim.datasets:
            labels = {run.label for run in runs if run.experiment.dataset == dataset}
            assert {*claim.comparators()} <= labels, (claim_id, dataset)
    assert len(runs) == 2 * 3 * len(grid.TRAINING_MODELS)
    check_budgets([run.experiment for run in runs])  # one budget per dataset


def test_the_audio_video_recipe_runs_where_the_cap_allows_it_and_the_profile_table_says_so():
    table = grid.profile_table()
    assert list(table.index) == list(PROFILES)
    for profile in PROFILES:
        assert table.loc[profile, "seeds"] == len(PROFILES[profile].seeds)
        runs = [r for r in grid.availability_runs(profile=profile) if r.experiment.dataset == "avletters"]
        epochs = {training_config(r.experiment, 0).epochs for r in runs}
        assert bool(runs) == (profile in grid.AVAILABILITY_AV_PROFILES)
        if not runs:
            continue
        fits = grid.av_recipe_fits(profile)
        assert fits == (PROFILES[profile].max_epochs is None or PROFILES[profile].max_epochs >= 100)
        if fits:
            assert epochs == {grid.AV_RECIPE["epochs"]}
            cmpt = [r for r in runs if r.experiment.method == "cmpt"]
            assert {training_config(r.experiment, 0).lr for r in cmpt} == {grid.AV_RECIPE["lr"]}
            assert "audio-video" in table.loc[profile, "AVLetters recipe in notebook 01"]
        else:
            assert epochs == {table.loc[profile, "epochs (every model but notebook 01's AVLetters)"]}
    assert "avmnist" in table.loc["paper", "notebook 02 datasets"]


def test_settings_map_to_each_dataset_in_the_papers_roles():
    assert grid.availability("avletters")["image 30%, text 100%"] == {"video": 0.3}
    assert grid.SETTING["avletters", "absent:audio=0.7"] == "image 100%, text 30%"
    assert grid.shown_setting("avletters", "image 65%, text 65%") == "video 65%, audio 65%"


def test_premise_verdicts_and_sentence_follow_the_numbers():
    rows = []
    for seed in range(4):
        for reference, cosine, mse in (("proxy", 0.9 + 0.01 * seed, 0.1), ("training mean", 0.5, 0.5 + 0.01 * seed),
                                       ("linear regression", 0.95 + 0.01 * seed, 0.05)):
            rows += [dict(dataset="cub", seed=seed, present=i, stands_for=j, reference=reference, metric=m, value=v)
                     for i, j in (("image", "text"), ("text", "image")) for m, v in (("cosine", cosine), ("mse", mse))]
    table = pd.DataFrame(rows)
    verdicts = grid.premise_verdicts(table).set_index(["reference", "metric"]).verdict
    assert verdicts["training mean", "cosine"] == "supported" and verdicts["training mean", "mse"] == "supported"
    assert verdicts["linear regression", "cosine"] == "contradicted"
    sentence = grid.premise_sentence(table, grid.premise_verdicts(table), grid.DATASET_NAMES)
    assert "On CUB" in sentence and "closer to the class token than the training mean by both measures" in sentence
    assert "farther from the class token than the linear regression by both measures" in sentence


def test_avletters_runs_in_notebook_01_only_where_declared_and_the_profile_table_says_so():
    table = grid.profile_table()
    for profile in PROFILES:
        datasets = {r.experiment.dataset for r in grid.availability_runs(profile=profile)}
        assert datasets == ({"cub", "avletters"} if profile in grid.AVAILABILITY_AV_PROFILES else {"cub"})
        assert table.loc[profile, "notebook 01 datasets"] == ", ".join(grid.availability_datasets(profile))
    assert "quick" in grid.AVAILABILITY_AV_PROFILES  # issue 17: real sequences in the main tables at quick


def test_alignment_sentence_reads_eq4_per_pair_unweighted():
    history = pd.DataFrame([dict(dataset="cub", method="CMPT", seed=seed, epoch=epoch, kept=epoch == 1,
                                 loss_align=0.2 * 2 * (2.0 - epoch * 0.5)) for seed in range(2) for epoch in range(3)])
    table = pd.DataFrame([dict(dataset="cub", seed=0, present=i, stands_for=j, reference=r, metric="mse", value=v)
                          for i, j in (("image", "text"), ("text", "image"))
                          for r, v in (("proxy", 1.5), ("training mean", 0.9), ("linear regression", 0.4))])
    sentence = grid.alignment_sentence(history, table, grid.DATASET_NAMES)
    assert "on CUB, 2.00 at the first epoch, 1.50 at the kept one and 1.00 at the last" in sentence
    assert "test MSE: 1.50; the training mean's: 0.90" in sentence
