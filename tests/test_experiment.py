"""Experiments, the results cache and the command line."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mmlib import experiment as experiment_module
from mmlib.__main__ import main
from mmlib.experiment import COLUMNS, Experiment, run, run_each, summarize
from mmlib.methods import METHODS


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMLIB_QUIET", "1")


def test_run_gives_the_tidy_table_and_caches_it(monkeypatch):
    experiment = Experiment("msrc", "concat", seeds=(0, 1), profile="smoke", device="cpu")
    table = run(experiment)
    assert list(table.columns) == COLUMNS
    assert set(table.seed) == {0, 1}
    assert table.condition.nunique() == 15  # 2^4 - 1 subsets of MSRC's four views
    assert {"accuracy", "f1_weighted", "f1_macro"} <= set(table.metric)
    assert "centrist+colmoment+gist+lbp" in set(table.condition)
    calls = []
    monkeypatch.setattr(experiment_module, "_run_seed", lambda *args: calls.append(args))
    again = run(experiment)
    assert calls == []  # read from the cache
    pd.testing.assert_frame_equal(table, again, check_dtype=False)


def test_a_changed_configuration_or_code_is_not_read_from_the_cache(monkeypatch):
    experiment = Experiment("msrc", "concat", seeds=(0,), profile="smoke", device="cpu")
    key = experiment.key(0)
    assert Experiment("msrc", "dropout", seeds=(0,), profile="smoke").key(0) != key
    assert Experiment("msrc", "concat", seeds=(0,), profile="quick").key(0) != key
    assert experiment.key(1) != key
    monkeypatch.setattr(experiment_module, "code_version", lambda: "other code")
    assert experiment.key(0) != key


def test_same_seed_same_numbers():
    experiment = Experiment("msrc", "transformer", seeds=(3,), profile="smoke", device="cpu")
    first = run(experiment, use_cache=False)
    second = run(experiment, use_cache=False)
    assert np.allclose(first.value, second.value)


def test_runs_side_by_side_give_the_numbers_of_runs_one_after_another():
    """Worker processes train with the training's own thread count and seeds: the same numbers as in-process."""
    experiments = [Experiment("mosi", method, seeds=(0, 1), profile="smoke", device="cpu", train_protocol="kappa:0.7",
                              test_protocols=("kappa:0.7",)) for method in ("dropout", "mgr")]
    alone = run_each(experiments, use_cache=False, workers=1)
    together = run_each(experiments, workers=2)
    for first, second in zip(alone, together):
        pd.testing.assert_frame_equal(first, second, check_dtype=False)
    assert len(list(experiment_module.cache_dir().glob("*.csv"))) == 4  # each (experiment, seed) cached once


def test_map_in_workers_keeps_the_order_and_raises_a_worker_error():
    import operator

    assert list(experiment_module.map_in_workers(operator.add, [1, 2, 3], [10, 20, 30], workers=2)) == [11, 22, 33]
    with pytest.raises(ZeroDivisionError):
        list(experiment_module.map_in_workers(operator.truediv, [1, 2], [1, 0], workers=2))


def test_one_configuration_asked_for_twice_trains_once(monkeypatch):
    calls = []
    real = experiment_module._run_seed
    monkeypatch.setattr(experiment_module, "_run_seed", lambda *args: calls.append(args) or real(*args))
    default = Experiment("msrc", "transformer", seeds=(0,), profile="smoke", device="cpu")
    spelled_out = Experiment("msrc", "transformer", seeds=(0,), profile="smoke", device="cpu",
                             method_options={"num_layers": 2})  # the constructor's default
    first, second = run_each([default, spelled_out], workers=1)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(first, second)


def test_training_leaves_the_thread_count_as_it_found_it():
    import torch

    before = torch.get_num_threads()
    run(Experiment("msrc", "concat", seeds=(0,), profile="smoke", device="cpu", train_options={"threads": 1}),
        use_cache=False)
    assert torch.get_num_threads() == before


def test_training_protocol_applies_to_train_and_val():
    experiment = Experiment("mosi", "concat", seeds=(0,), profile="smoke", train_protocol="kappa:1.0")
    splits = experiment_module.prepared_splits(experiment, 0)
    assert (splits.train.present.sum(1) == 2).all() and (splits.val.present.sum(1) == 2).all()
    assert splits.test.present.all()


def test_summarize_gives_mean_std_and_interval():
    table = pd.DataFrame({"dataset": "d", "method": "m", "protocol": "p", "condition": "c", "metric": "accuracy",
                          "seed": [0, 1, 2], "value": [0.5, 0.6, 0.7]})
    row = summarize(table).iloc[0]
    assert row["mean"] == pytest.approx(0.6) and row["std"] == pytest.approx(0.1) and row["n"] == 3
    assert row["ci95_low"] < 0.6 < row["ci95_high"]


def test_cli_run_prints_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "results.csv"
    code = main(["run", "--dataset", "msrc", "--method", "dropout", "--protocol", "subsets", "--seeds", "0",
                 "--profile", "smoke", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS and set(table.method) == {"dropout"}
    assert "centrist+gist" in capsys.readouterr().out


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_runs_from_the_cli_on_an_npz_file(tmp_path, method):
    """Each method, with its paper's recipe, on a user's file: a vector and a sequence modality, some samples
    missing one of them at training."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 90)
    path = tmp_path / "mine.npz"
    np.savez(path, x_left=rng.normal(size=(90, 6)) + y[:, None], x_right=rng.normal(size=(90, 5, 3)), y=y)
    out = tmp_path / "r.csv"
    assert main(["run", "--dataset", f"npz:{path}", "--method", method, "--train-protocol", "kappa:0.5",
                 "--protocol", "subsets", "kappa:0.5", "--seeds", "0", "--profile", "smoke", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert set(table.method) == {method}
    assert {"left", "right", "left+right", "absent:left=0.25,right=0.25"} <= set(table.condition)
    assert table.value.between(0, 1).all()


def test_cli_npz_dataset(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x_left=rng.normal(size=(90, 5)), x_right=rng.normal(size=(90, 3)), y=rng.integers(0, 2, 90))
    out = tmp_path / "r.csv"
    assert main(["run", "--dataset", f"npz:{path}", "--method", "concat", "--seeds", "0", "--profile", "smoke",
                 "--out", str(out)]) == 0
    assert set(pd.read_csv(out).condition) == {"left", "right", "left+right"}


@pytest.mark.parametrize("argv, message", [
    (["run", "--dataset", "nope", "--method", "concat", "--profile", "smoke"], "unknown dataset"),
    (["run", "--dataset", "msrc", "--method", "nope"], "unknown method 'nope'"),
    (["run", "--dataset", "msrc", "--method", "concat", "--protocol", "kappa:2", "--profile", "smoke"], "kappa"),
    (["run", "--dataset", "npz:/no/such/file.npz", "--method", "concat"], "file.npz"),
])
def test_cli_bad_arguments_get_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]


def test_cli_datasets_lists_every_dataset():
    result = subprocess.run([sys.executable, "-m", "mmlib", "datasets"], capture_output=True, text=True,
                            env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    for name in ("mosi", "avmnist", "mfeat", "cub", "scene15", "landuse21", "msrc", "avletters"):
        assert name in result.stdout
