"""Experiments, the results cache and the command line."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mmlib import experiment as experiment_module
from mmlib.__main__ import main
from mmlib.experiment import COLUMNS, Experiment, records, run, run_each, summarize, under_trained
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
    assert len(list(experiment_module.cache_dir().glob("*.json"))) == 4  # each (experiment, seed) cached once


def test_a_run_keeps_its_history_and_per_class_scores_with_its_scores():
    experiment = Experiment("msrc", "concat", seeds=(0, 1), profile="smoke", device="cpu")
    record = records([experiment])[0]
    assert set(record.history.seed) == {0, 1} and (record.history.epochs_allowed == 2).all()
    assert record.history.groupby("seed")["kept"].sum().tolist() == [1, 1]  # one kept epoch per run
    assert record.history["val_score"].between(0, 1).all()
    classes = record.classes[record.classes.condition == "centrist+colmoment+gist+lbp"]
    assert len(classes) == 2 * 7 and classes.support.sum() == 2 * 42  # every test sample, once per seed
    accuracy = record.results.query("metric == 'accuracy' and condition == 'centrist+colmoment+gist+lbp'")
    for seed, group in classes.groupby("seed"):  # per-class recalls weighted by support give the accuracy
        overall = accuracy[accuracy.seed == seed].value.item()
        assert (group.accuracy * group.support).sum() / group.support.sum() == pytest.approx(overall)
    again = records([experiment])[0]  # from the cache: the same record
    for part in ("results", "history", "classes"):
        pd.testing.assert_frame_equal(getattr(record, part), getattr(again, part), check_dtype=False)


def test_under_trained_share():
    history = pd.DataFrame({"epoch": [0, 1, 0, 1, 2], "kept": [False, True, True, False, False],
                            "epochs_allowed": [2, 2, 3, 3, 3]})
    assert under_trained(history) == pytest.approx(0.5)  # run one kept its last allowed epoch, run two its first


@pytest.mark.parametrize("damage", ["cut", "garbage", "columns", "other key"])
def test_a_damaged_record_is_recomputed_with_a_warning(damage, monkeypatch):
    import json

    from mmlib import store

    experiment = Experiment("msrc", "concat", seeds=(0,), profile="smoke", device="cpu")
    first = run(experiment)
    path = store.record_path(experiment.key(0))
    text = path.read_text()
    if damage == "cut":
        path.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    else:
        content = json.loads(text)
        if damage == "columns":
            content["results"].pop("value")
        else:
            content["key"] = "another"
        path.write_text(json.dumps(content))
    with pytest.warns(UserWarning, match="damaged run record"):
        again = run(experiment)
    pd.testing.assert_frame_equal(first, again, check_dtype=False)
    assert store.load_record(experiment.key(0)) is not None  # rewritten whole


def test_models_compared_in_one_call_share_one_budget(monkeypatch):
    calls = []
    monkeypatch.setattr(experiment_module, "_train_runs", lambda *args, **kwargs: calls.append(args) or {})
    short = Experiment("msrc", "concat", seeds=(0,), profile="quick", train_options={"epochs": 5})
    full = Experiment("msrc", "cmpt", seeds=(0,), profile="quick")  # a 10-epoch recipe: 15 at quick, as every model
    with pytest.raises(ValueError, match="different budgets"):
        records([short, full])
    with pytest.raises(ValueError, match="different budgets"):
        records([full, Experiment("msrc", "concat", seeds=(0,), profile="quick", train_options={"patience": 2})])
    assert calls == []  # nothing trained
    assert experiment_module.training_config(full, 0).epochs == 15
    assert experiment_module.training_config(Experiment("msrc", "concat", train_options={"epochs": 40}), 0).epochs == 15
    assert experiment_module.training_config(Experiment("msrc", "mce", profile="paper"), 0).epochs == 60  # recipe


def test_the_kept_epoch_is_chosen_under_the_experiment_protocol():
    experiment = Experiment("msrc", "concat", seeds=(0,), profile="smoke", device="cpu")
    splits = experiment_module.prepared_splits(experiment, 0)
    sets = experiment_module.validation_sets(experiment, splits, 0)
    assert len(sets) == 15 and all(len(s) == len(splits.val) for s in sets)  # every subset of four views
    assert sorted(int(s.present[0].sum()) for s in sets) == [1] * 4 + [2] * 6 + [3] * 4 + [4]
    trained = Experiment("mosi", "concat", profile="smoke", train_protocol="kappa:1.0", test_protocols=("subsets",))
    splits = experiment_module.prepared_splits(trained, 0)
    assert experiment_module.validation_sets(trained, splits, 0) == [splits.val]  # the training protocol's val


def test_selection_last_keeps_the_last_epoch():
    from mmlib.train import TrainConfig

    with pytest.raises(ValueError, match="selection"):
        TrainConfig(selection="best")
    experiment = Experiment("msrc", "concat", seeds=(0,), profile="smoke", device="cpu",
                            train_options={"selection": "last"})
    history = records([experiment])[0].history
    assert history.kept.tolist() == [False, True]


def test_cli_out_into_a_missing_folder_fails_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment_module, "_run_seed", lambda *args: pytest.fail("trained before the check"))
    out = tmp_path / "no" / "such" / "r.csv"
    assert main(["run", "--dataset", "msrc", "--method", "concat", "--seeds", "0", "--profile", "smoke",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0] and not out.parent.exists()


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


def test_trained_loads_the_weights_records_kept_and_gives_the_same_predictions(monkeypatch):
    import torch

    from mmlib.experiment import records, trained
    from mmlib.train import predict

    experiment = Experiment("msrc", "transformer", seeds=(0,), profile="smoke", device="cpu")
    (record,) = records([experiment], workers=1)
    monkeypatch.setattr(experiment_module, "fit", lambda *args, **kwargs: pytest.fail("trained again"))
    method, splits, loaded = trained(experiment, 0)
    pd.testing.assert_frame_equal(loaded.results, record.results)
    monkeypatch.undo()
    retrained, _, again = trained(experiment, 0, use_cache=False)  # a fresh training, the same weights
    assert not method.training
    assert torch.equal(predict(method, splits.test), predict(retrained, splits.test))
    pd.testing.assert_frame_equal(again.results, record.results)


def test_trained_trains_and_keeps_a_run_not_in_the_cache(monkeypatch):
    from mmlib.experiment import trained

    experiment = Experiment("msrc", "concat", seeds=(1,), profile="smoke", device="cpu")
    trained(experiment, 1)
    monkeypatch.setattr(experiment_module, "fit", lambda *args, **kwargs: pytest.fail("trained again"))
    calls = []
    monkeypatch.setattr(experiment_module, "_run_seed", lambda *args: calls.append(args))
    run(experiment)  # its record is there too
    assert calls == []
    trained(experiment, 1)
