"""Runs sent to a Dask cluster (mmlib.experiment.records, map_in_workers): the same records and weights through a
scheduler given by MMLIB_SCHEDULER, the default local cluster and this process; the caller keeps what a worker
sends back; a failed run named after the others are kept; one run asked for by two processes at once trained
once; a progress bar, and nothing printed when quiet."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mmlib import experiment as experiment_module
from mmlib.experiment import Experiment, RunsFailed, records
from mmlib.store import Record, load_record, load_weights
from toydata import weak_signal

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def toy(tmp_path_factory):
    """A small npz dataset (three weak modalities): a run trains in well under a second."""
    _, arrays, y, _ = weak_signal(n=180)
    path = tmp_path_factory.mktemp("toy") / "toy.npz"
    np.savez(path, **{f"x_{name}": array.astype(np.float32) for name, array in arrays.items()}, y=y)
    return f"npz:{path}"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMLIB_QUIET", "1")
    monkeypatch.delenv("MMLIB_SCHEDULER", raising=False)
    monkeypatch.delenv("MMLIB_NO_TRAINING", raising=False)
    return tmp_path / "cache"


def grid(dataset: str) -> list[Experiment]:
    return [Experiment(dataset, method, seeds=(0, 1), profile="smoke", device="cpu", train_protocol="kappa:0.5",
                       test_protocols=("subsets",)) for method in ("concat", "dropout")]


def kept_weights(experiments) -> dict:
    return {e.key(seed): load_weights(e.key(seed)) for e in experiments for seed in e.seed_list()}


def assert_same_records(first: list[Record], second: list[Record]) -> None:
    """Every part equal, but the wall seconds a run's history keeps (a measurement of the machine, not a result)."""
    for one, other in zip(first, second, strict=True):
        for part in Record.PARTS:
            pd.testing.assert_frame_equal(getattr(one, part).drop(columns="elapsed_s", errors="ignore"),
                                          getattr(other, part).drop(columns="elapsed_s", errors="ignore"))


@pytest.fixture(scope="module", autouse=True)
def closed_at_the_end():
    yield
    experiment_module.close_cluster()


def test_a_scheduler_the_default_cluster_and_this_process_give_identical_records_and_weights(
        toy, cache, tmp_path, monkeypatch):
    import operator

    from distributed import LocalCluster

    experiments = grid(toy)
    here = records(experiments, workers=1)  # in this process
    weights_here = kept_weights(experiments)

    # A "remote" cluster whose workers have a results cache of their own: what they train reaches the caller's.
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "caller"))
    workers_cache = tmp_path / "workers"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      scheduler_kwargs={"dashboard": False}, env={"MMLIB_CACHE": str(workers_cache)}) as cluster:
        monkeypatch.setenv("MMLIB_SCHEDULER", cluster.scheduler_address)
        remote = records(experiments, workers=1)  # the scheduler decides: workers is the local cluster's
        assert experiment_module._CLUSTER["spec"] == cluster.scheduler_address
        assert list(experiment_module.map_in_workers(operator.mul, [1, 2, 3, 4], [5, 6, 7, 8])) == [5, 12, 21, 32]
        with pytest.raises(ZeroDivisionError):
            list(experiment_module.map_in_workers(operator.truediv, [1, 2], [1, 0]))
        experiment_module.close_cluster()
    monkeypatch.delenv("MMLIB_SCHEDULER")
    assert_same_records(here, remote)
    weights_remote = kept_weights(experiments)  # kept by the caller, in its cache
    assert not (workers_cache / "results").exists()
    assert weights_here.keys() == weights_remote.keys() and len(weights_here) == 4
    for key, state in weights_here.items():
        assert state.keys() == weights_remote[key].keys()
        assert all(torch.equal(state[name], weights_remote[key][name]) for name in state)

    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "default"))
    default = records(experiments, workers=2)  # the local cluster records() starts, kept for the next tests
    assert experiment_module._CLUSTER["spec"] == 2 and "cluster" in experiment_module._CLUSTER
    assert_same_records(here, default)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_run_is_named_after_the_others_are_kept(toy, cache, workers):
    good = grid(toy)
    bad = Experiment(toy, "concat", seeds=(0, 1), profile="smoke", device="cpu", train_protocol="kappa:0.5",
                     method_options={"no_such_option": 1})
    with pytest.raises(RunsFailed) as raised:
        records([good[0], bad, good[1]], workers=workers)
    message = str(raised.value)
    assert "2 of 6 runs" in message and "the other 4 are kept" in message
    for seed in (0, 1):
        assert f"concat seed {seed} (key {bad.key(seed)})" in message
        assert load_record(bad.key(seed)) is None
    assert "no_such_option" in message and isinstance(raised.value.__cause__, TypeError)
    assert set(raised.value.failures) == {bad.key(0), bad.key(1)}
    for experiment in good:
        for seed in experiment.seed_list():
            assert load_record(experiment.key(seed)) is not None
            assert load_weights(experiment.key(seed)) is not None


SCRIPT = """
from mmlib.experiment import Experiment, records
if __name__ == "__main__":
    grid = [Experiment({toy!r}, method, seeds=(0, 1), profile="smoke", device="cpu") for method in ("concat", "dropout")]
    records(grid, workers={workers})
"""


def run_script(tmp_path, toy, quiet: bool, workers: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "MMLIB_CACHE": str(tmp_path / f"cache-{quiet}"), "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1", "MMLIB_QUIET": "1" if quiet else "0"}
    env.pop("MMLIB_SCHEDULER", None)
    script = SCRIPT.format(toy=toy, workers=workers)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)


def test_a_progress_bar_over_the_grid_and_nothing_printed_when_quiet(toy, cache, tmp_path, monkeypatch, capfd):
    experiments = grid(toy)
    records(experiments[:1], workers=1)
    monkeypatch.setenv("MMLIB_QUIET", "0")
    records(experiments, workers=1)  # the bar is drawn by the calling process, wherever the runs train
    last = capfd.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "runs: 100%" in last and "4/4" in last and "cached=2, failed=0" in last
    quiet = run_script(tmp_path, toy, quiet=True, workers=2)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "" and quiet.stderr == ""  # through the cluster's start, the runs and its closing


def test_two_processes_asking_for_one_run_train_it_once(toy, tmp_path):
    """Two notebooks that need one run at the same time: the second puts it back while the first trains it,
    then reads it from the cache."""
    script = textwrap.dedent(f"""
        import time
        from mmlib import experiment
        real = experiment._run_seed
        def counted(*arguments):
            with open({str(tmp_path / 'calls')!r}, "a") as handle:
                handle.write("x")
            time.sleep(3.0)
            return real(*arguments)
        experiment._run_seed = counted
        [record] = experiment.records([experiment.Experiment({toy!r}, "concat", seeds=(0,), profile="smoke",
                                                              device="cpu")], workers=1)
        print(record.results.value.sum())
    """)
    env = {**os.environ, "MMLIB_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "MMLIB_QUIET": "1"}
    env.pop("MMLIB_SCHEDULER", None)
    processes = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    assert outputs[0][0] == outputs[1][0] != ""
    assert (tmp_path / "calls").read_text() == "x"
