"""The benchmark grid: its protocol families hold on every dataset, every method is tuned alike, the chosen trial
is the best on validation, and the command line writes the table or one clear error."""
import inspect
import math

import numpy as np
import pandas as pd
import pytest

from mmlib import benchmark, claims
from mmlib.__main__ import main
from mmlib.benchmark import (BENCHMARK_METHODS, FAMILIES, PLANS, REFERENCE, Cell, cells, chosen_trials, final_grid,
                             run_benchmark, trial_options, tuning_grid)
from mmlib.data import load_dataset
from mmlib.experiment import budget, check_budgets
from mmlib.methods import METHODS
from mmlib.missing import parse_protocol


@pytest.fixture(autouse=True)
def quiet(monkeypatch, tmp_path):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMLIB_QUIET", "1")
    monkeypatch.setenv("MMLIB_WORKERS", "1")


def test_every_family_holds_on_every_dataset_of_the_paper_grid():
    """Each family's protocols parse and mask every split of every paper dataset (MCE's rates leave no sample
    without a modality), and each family appears at quick with every method."""
    grid = cells("paper")
    assert {c.family for c in grid} == set(FAMILIES)
    assert {c.dataset for c in grid} == set(benchmark.PAPER_DATASETS)
    assert {c.dataset for c in grid if c.family == "missing frames"} == set(benchmark.SEQUENCE_DATASETS)
    for cell in grid:
        splits = load_dataset(cell.dataset)
        for text in filter(None, (cell.train_protocol, *cell.test_protocols)):
            protocol = parse_protocol(text, splits.spec)
            for split in (splits.train, splits.val, splits.test):
                for condition in protocol.conditions(splits.spec):
                    masked = protocol.apply(split, condition, 0)
                    if text.startswith(("kappa", "absent", "rates")):
                        assert masked.present.any(1).all(), (cell, text)
    assert {c.family for c in cells("quick")} == set(FAMILIES)
    assert REFERENCE in BENCHMARK_METHODS and "simbamm" in BENCHMARK_METHODS
    assert set(BENCHMARK_METHODS) <= set(METHODS)


def test_trial_zero_is_the_papers_recipe_and_the_others_are_seeded_draws_in_range():
    cell = Cell("mosi", "test only", None, ("subsets",))
    for method in BENCHMARK_METHODS:
        model, training = trial_options(method, 0, cell, "paper")
        assert model == {} and training == {"epochs": PLANS["paper"].epochs["mosi"]}  # defaults, the recipe's optimiser
        drawn = [trial_options(method, t, cell, "paper") for t in range(1, 8)]
        assert drawn == [trial_options(method, t, cell, "paper") for t in range(1, 8)]  # the same on every call
        defaults = inspect.signature(METHODS[method]).parameters
        for model, training in drawn:
            assert 1e-4 <= training["lr"] <= 3e-3 and model["d_model"] in (32, 64, 128)
            for name in model:
                assert name in defaults or name == "backbone_options", (method, name)  # real constructor options
        assert len({t[1]["lr"] for t in drawn}) == 7  # not one value
    own = trial_options("mgr", 1, cell, "paper")[0]
    assert {"lambda_div", "alpha_u"} <= set(own)
    assert trial_options("dream", 0, cell, "quick")[0] == {"d_model": 32, "backbone_options": {"d_model": 32}}
    # at quick a pre-training stage gets at most the epochs every model has on the dataset
    epochs = trial_options("cmpt", 0, cell, "quick")[1]["epochs"]
    assert trial_options("cmpt", 0, cell, "quick")[0]["pretrain_epochs"] == epochs < 20


def test_every_method_gets_the_same_trials_and_budget():
    grid_cells = cells("paper", datasets=["mosi"])
    grid = tuning_grid("paper", grid_cells, BENCHMARK_METHODS)
    per_method = pd.Series([m for _, _, m, _ in grid]).value_counts()
    assert (per_method == PLANS["paper"].trials * len(grid_cells)).all()
    check_budgets(grid.values())  # raises on unequal epochs, patience or selection on one dataset
    assert len({budget(e) for e in grid.values()}) == 1


def test_the_chosen_trial_is_the_best_on_validation(monkeypatch):
    monkeypatch.setitem(PLANS, "smoke", benchmark.Plan({"same at train and test": ("cub",)}, 3, 16, {}))
    grid_cells = cells("smoke", families=["same at train and test"])
    chosen = chosen_trials("smoke", grid_cells, ["concat"])
    grid = tuning_grid("smoke", grid_cells, ["concat"])
    from mmlib.experiment import records

    scores = [float(r.history.loc[r.history.kept, "val_score"].iloc[0]) for r in records(list(grid.values()))]
    assert len(chosen) == 1 and chosen.trial.iloc[0] == int(np.argmax(scores))
    assert chosen.val_score.iloc[0] == pytest.approx(max(scores))
    final = final_grid("smoke", chosen, grid_cells)
    assert benchmark.TUNING_SEED not in final["cub", "same at train and test", "concat"].seed_list()
    assert final["cub", "same at train and test", "concat"].method_options == \
        grid["cub", "same at train and test", "concat", int(np.argmax(scores))].method_options


def test_the_command_line_writes_the_table_and_the_runs(tmp_path, capsys):
    out, runs = tmp_path / "results.csv", tmp_path / "runs.csv"
    code = main(["benchmark", "--profile", "smoke", "--methods", "concat", "simbamm", "--families", "test only",
                 "same at train and test", "--out", str(out), "--runs", str(runs)])
    assert code == 0
    table, per_run = pd.read_csv(out), pd.read_csv(runs)
    assert set(table.family) == {"test only", "same at train and test"} and set(table.method) == {"concat", "simbamm"}
    assert table.value.between(0, 1).all()
    assert len(per_run) == 4 and (per_run.parameters > 0).all() and (per_run.seconds > 0).all()
    assert per_run.set_index("method").parameters["simbamm"].iloc[0] != per_run.set_index("method").parameters["concat"].iloc[0]
    assert "simbamm" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (["--methods", "nope"], "unknown methods"),
    (["--families", "sideways"], "unknown protocol families"),
    (["--out", "/no/such/folder/r.csv"], "does not exist"),
])
def test_bad_input_gets_one_clear_error_and_trains_nothing(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(benchmark, "records", lambda *a, **k: pytest.fail("trained despite bad input"))
    assert main(["benchmark", "--profile", "smoke", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error:") and message in error and error.count("\n") == 1
    assert not list(tmp_path.glob("*.csv"))


def synthetic(effects: dict[str, float], cells_=(("mosi", "test only"), ("cub", "heterogeneous")), seeds=5,
              noise=0.01, seed=0) -> pd.DataFrame:
    """A tidy table: each method scores 0.6 + its effect (+ noise) per seed under two conditions of each cell."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset, family in cells_:
        for s in range(seeds):
            for method, effect in {"dropout": 0.0, **effects}.items():
                for condition in ("a", "b"):
                    rows.append(dict(dataset=dataset, method=method, seed=s, protocol="p", condition=condition,
                                     metric="accuracy", value=0.6 + effect + rng.normal(0, noise), family=family))
    return pd.DataFrame(rows)


def test_a_method_that_beats_or_loses_to_dropout_is_told_apart_from_noise():
    judged = benchmark.against_reference(synthetic({"mgr": 0.05, "mce": -0.05, "mmp": 0.0}, noise=0.01))
    outcome = judged.groupby("method").outcome.agg(set)
    assert outcome["mgr"] == {"win"} and outcome["mce"] == {"loss"}
    assert (judged.n == 5).all() and (judged.mde > 0).all()
    # Holm over each method's cells: never below the raw p-value, and the outcome follows the adjusted one
    assert (judged.p_holm >= judged.p).all()
    for _, part in judged.groupby("method"):
        assert part.p_holm.tolist() == pytest.approx(claims.holm(part.p.to_numpy()).tolist())
    assert set(judged.method) == {"mgr", "mce", "mmp"}  # the paper methods in the table, not the baselines
    tally = benchmark.tally(judged)
    assert tally.loc[("mgr", "test only")].tolist() == [1, 0, 0] and tally.loc[("mce", "heterogeneous")].tolist() == [0, 0, 1]
    # no effect, large noise: most cells inconclusive, not wins
    noisy = benchmark.against_reference(synthetic({"mmp": 0.0}, noise=0.05, seeds=3, seed=1))
    assert (noisy.outcome != "win").all()


def test_cell_scores_average_conditions_and_ranks_follow_the_scores():
    table = synthetic({"simbamm": 0.1, "concat": -0.1}, noise=0.001)
    scores = benchmark.cell_scores(table)
    assert len(scores) == 2 * 5 * 3  # one per cell, seed and method: the two conditions averaged
    assert benchmark.cell_summary(table).set_index("method").loc["simbamm", "n"].tolist() == [5, 5]
    ranks = benchmark.rank_test(synthetic({"simbamm": 0.1, "concat": -0.1},
                                          cells_=[(d, f) for d in ("a", "b", "c") for f in ("x", "y")]))
    assert ranks.average_ranks.idxmin() == "simbamm" and ranks.average_ranks.idxmax() == "concat"
    assert ranks.average_ranks.tolist() == [1.0, 2.0, 3.0] and ranks.cells == 6
    assert ranks.pvalue < 0.01  # the same order in all six cells
    assert ranks.nemenyi.loc["simbamm", "concat"] < 0.05 and ranks.nemenyi.shape == (3, 3)
    # no difference between the methods: the Friedman test does not reject
    alike = benchmark.rank_test(synthetic({"simbamm": 0.0, "concat": 0.0}, noise=0.05,
                                          cells_=[(d, f) for d in ("a", "b", "c") for f in ("x", "y")], seed=3))
    assert alike.pvalue > 0.05


def test_the_benchmark_runs_on_a_users_file_with_the_families_that_apply(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 90)
    path = tmp_path / "mine.npz"
    np.savez(path, x_left=rng.normal(size=(90, 6)) + y[:, None], x_right=rng.normal(size=(90, 5, 3)), y=y)
    grid = cells("quick", datasets=[f"npz:{path}"])
    assert {c.family for c in grid} == set(FAMILIES)  # a sequence modality: the frames family applies too
    assert next(c for c in grid if c.family == "train and test differ").test_protocols == ("absent:right=0.7",)
    out = tmp_path / "r.csv"
    assert main(["benchmark", "--profile", "smoke", "--datasets", f"npz:{path}", "--methods", "concat",
                 "--families", "missing frames", "imbalanced rates", "--out", str(out)]) == 0
    assert set(pd.read_csv(out).family) == {"missing frames", "imbalanced rates"}


def test_the_command_line_benchmark_runs_through_a_dask_local_cluster_with_the_same_table(tmp_path, monkeypatch):
    """``python -m mmlib benchmark --profile smoke`` with its runs sent to a Dask LocalCluster (MMLIB_SCHEDULER):
    the same table as in this process, and the runs kept in the caller's cache."""
    from distributed import LocalCluster

    from mmlib import experiment as experiment_module

    arguments = ["benchmark", "--profile", "smoke", "--methods", "concat", "simbamm", "--families", "test only",
                 "absence on one modality"]
    here, there = tmp_path / "here.csv", tmp_path / "there.csv"
    assert main([*arguments, "--out", str(here)]) == 0  # MMLIB_WORKERS=1: in this process
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "other cache"))
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            monkeypatch.setenv("MMLIB_SCHEDULER", cluster.scheduler_address)
            assert main([*arguments, "--out", str(there)]) == 0
            assert experiment_module._CLUSTER["spec"] == cluster.scheduler_address  # the runs went there
    finally:
        experiment_module.close_cluster()
    pd.testing.assert_frame_equal(pd.read_csv(here), pd.read_csv(there))
    assert len(list((tmp_path / "other cache" / "results").glob("*"))) > 0  # kept by the caller
