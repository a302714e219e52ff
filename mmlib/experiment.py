"""Experiments: dataset x method x protocols x seeds, run (or read from the results cache) into one tidy table.

The table has a row per ``dataset, method, seed, protocol, condition, metric, value``. Each run (experiment x seed)
leaves a :class:`~mmlib.store.Record` (those scores, its per-epoch history, its per-class scores) and its trained
weights in the results
cache (:mod:`mmlib.store`, ``$MMLIB_CACHE/results``), keyed on the experiment's configuration and a hash of the
library's source code, so a rebuild does not retrain and a result from older code is never reused.
:func:`run_each` (and :func:`run_all`, :func:`records`) train the uncached runs of many experiments side by side
on a Dask cluster (``distributed``): the one given by ``$MMLIB_SCHEDULER`` (``tcp://host:8786``: a cluster of
several machines, or a SLURM allocation through ``dask-jobqueue``; README, "Running on a cluster"), else a local
cluster of single-threaded worker processes, one per CPU core, started on first use and kept for later calls. Give
them a whole grid at once rather than calling :func:`run` in a loop. A run's numbers do not depend on where it ran
(it is seeded and trains on one thread), and the caller keeps what the workers send back, so a cluster need not
share the caller's disk.

**Budgets.** A profile sets the epoch budget of every method alike; the method's own recipe (``method.recipe``, the
paper's) gives the rest (optimiser, learning rate, batch, schedule):

| profile | epochs | training samples | evaluation samples | seeds |
|---|---|---|---|---|
| ``smoke`` | 2 | at most 256 | at most 256 | 0 |
| ``quick`` | 15, or the chapter's ``epochs`` (at most 15) | all | all | 0-4 |
| ``paper`` | the chapter's ``epochs``, else the recipe's | all | all | 0-9 |

A chapter that needs another budget gives ``train_options={"epochs": ...}`` to every model it compares:
:func:`records` refuses to train, in one call, models of one dataset under different epochs, patience or selection
rules (:func:`budget`). The epoch kept is chosen on the validation split under the experiment's own protocol
(:func:`validation_sets`, ``TrainConfig.selection``).

Every run that feeds a claim (:mod:`mmlib.claims`) has at least 5 replicates at ``quick`` and 10 at ``paper``.
"""
from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import hashlib
import inspect
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from unittest import mock

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm  # plain text bars: tqdm.auto warns in kernels without ipywidgets

from .data import load_dataset
from .data.core import MultimodalDataset, Splits
from .evaluate import evaluate
from .methods import METHODS, make_method
from .missing import parse_protocol
from .store import (RESULT_COLUMNS, UNDER_TRAINED, Record, cache_dir, cache_root, code_version, exclusive,
                    load_record, load_weights, save_record, save_weights, under_trained)
from .train import TrainConfig, fit, resolve_device

__all__ = ["PROFILES", "COLUMNS", "Experiment", "Record", "run", "run_all", "run_each", "records", "map_in_workers",
           "RunsFailed", "close_cluster", "default_workers", "usable_cores", "summarize", "build_method", "train_method", "training_config", "budget", "check_budgets",
           "validation_sets", "score_run", "trained", "under_trained", "UNDER_TRAINED", "cache_dir", "code_version"]

COLUMNS = RESULT_COLUMNS


@dataclass(frozen=True)
class Profile:
    max_epochs: int | None  # the epoch budget of every method, and the most a chapter may give (None: the recipe's)
    max_train: int | None = None
    max_eval: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)


PROFILES = {
    "smoke": Profile(max_epochs=2, max_train=256, max_eval=256, seeds=(0,)),
    "quick": Profile(max_epochs=15, seeds=(0, 1, 2, 3, 4)),
    "paper": Profile(max_epochs=None, seeds=tuple(range(10))),
}


def profile_named(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]


@dataclass(frozen=True)
class Experiment:
    """What to run. ``train_protocol`` (a :func:`~mmlib.missing.parse_protocol` string) applies to the training
    and validation splits; each of ``test_protocols`` to the test split. Options are dicts of keyword arguments
    for the method's constructor and for :class:`~mmlib.train.TrainConfig`."""

    dataset: str
    method: str
    seeds: tuple[int, ...] | None = None  # None: the profile's seeds
    test_protocols: tuple[str, ...] = ("subsets",)
    train_protocol: str | None = None
    profile: str = "quick"
    method_options: dict = field(default_factory=dict)
    train_options: dict = field(default_factory=dict)
    device: str = "auto"
    data_dir: str | None = None
    mask_seed: int | None = None  # seed of the missing-modality masks; None: the training seed (MGR varies both)

    def seed_list(self) -> tuple[int, ...]:
        return tuple(self.seeds) if self.seeds is not None else profile_named(self.profile).seeds

    def key(self, seed: int) -> str:
        """The results-cache key: the configuration (method options equal to the constructor's defaults left
        out, so that two spellings of one model share an entry), the seed and the code version."""
        config = asdict(self)
        config.update(seeds=None, seed=seed, device=None, data_dir=None, code=code_version(),
                      method_options=_non_default_options(self.method, self.method_options))
        return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _non_default_options(method: str, options: dict) -> dict:
    if method not in METHODS:
        return options
    defaults = {name: parameter.default for name, parameter in inspect.signature(METHODS[method]).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    return {name: value for name, value in options.items() if not (name in defaults and defaults[name] == value)}


def _limit(dataset: MultimodalDataset, limit: int | None, seed: int) -> MultimodalDataset:
    if limit is None or len(dataset) <= limit:
        return dataset
    keep = np.sort(np.random.default_rng(seed).choice(len(dataset), size=limit, replace=False))
    return dataset.subset(keep)


def prepared_splits(experiment: Experiment, seed: int) -> Splits:
    """The dataset's splits at the experiment's profile, with the training protocol applied to train and val."""
    profile = profile_named(experiment.profile)
    splits = load_dataset(experiment.dataset, data_dir=experiment.data_dir)
    train, val, test = (_limit(s, profile.max_train if s is splits.train else profile.max_eval, 0) for s in splits)
    if experiment.train_protocol is not None:
        protocol = parse_protocol(experiment.train_protocol, splits.spec)
        mask_seed = _mask_seed(experiment, seed)
        train, val = protocol.apply(train, None, mask_seed), protocol.apply(val, None, mask_seed + 10_000)
    return Splits(splits.spec, train, val, test)


def _mask_seed(experiment: Experiment, seed: int) -> int:
    return seed if experiment.mask_seed is None else experiment.mask_seed


def training_config(experiment: Experiment, seed: int) -> TrainConfig:
    """The training configuration of one run: the method's recipe, the experiment's ``train_options``, and the
    profile's epoch budget (which a chapter's ``epochs`` may lower, never raise)."""
    profile = profile_named(experiment.profile)
    if experiment.method not in METHODS:
        raise ValueError(f"unknown method {experiment.method!r}; available: {', '.join(sorted(METHODS))}")
    config = METHODS[experiment.method].recipe.updated(seed=seed, device=experiment.device,
                                                       **experiment.train_options)
    if profile.max_epochs is not None:
        config = config.updated(epochs=min(experiment.train_options.get("epochs", profile.max_epochs),
                                           profile.max_epochs))
    return config


def budget(experiment: Experiment) -> tuple:
    """What must be equal between models compared with one another: epochs, patience and selection rule."""
    config = training_config(experiment, 0)
    return config.epochs, config.patience, config.selection


def check_budgets(experiments) -> None:
    """ValueError, saying which differ, when experiments of one dataset would train under different budgets
    (:func:`budget`): what :func:`records` checks of the experiments given in one call."""
    by_dataset: dict[str, dict[tuple, list[str]]] = {}
    for experiment in experiments:
        by_dataset.setdefault(experiment.dataset, {}).setdefault(budget(experiment), []).append(experiment.method)
    for dataset, budgets in by_dataset.items():
        if len(budgets) > 1:
            listed = "; ".join(f"{', '.join(sorted(set(methods)))}: {epochs} epochs, patience {patience}, "
                               f"selection {selection!r}" for (epochs, patience, selection), methods in budgets.items())
            raise ValueError(f"models compared on {dataset} would train under different budgets ({listed}): give "
                             "every one the same train_options epochs, patience and selection")


def build_method(experiment: Experiment, seed: int):
    """The experiment's untrained method for one seed, its splits and its training configuration, exactly as
    :func:`train_method` starts from them: returns (method, splits, config)."""
    splits = prepared_splits(experiment, seed)
    torch.manual_seed(seed)
    method = make_method(experiment.method, splits.spec, **experiment.method_options)
    return method, splits, training_config(experiment, seed)


def validation_sets(experiment: Experiment, splits: Splits, seed: int) -> list[MultimodalDataset]:
    """The datasets the kept epoch is chosen on (``TrainConfig.selection == "protocol"``): the validation split under
    the experiment's training protocol when it has one (the split is masked already), else the validation split
    under each condition of its test protocols (masks seeded apart from the test's), each weighing the same."""
    if experiment.train_protocol is not None:
        return [splits.val]
    sets = []
    for text in experiment.test_protocols:
        protocol = parse_protocol(text, splits.spec)
        for condition in protocol.conditions(splits.spec):
            masked = protocol.apply(splits.val, condition, _mask_seed(experiment, seed) + 10_000)
            sets.append(masked.subset(torch.nonzero(masked.present.any(1)).squeeze(1)))
    return sets


def train_method(experiment: Experiment, seed: int, on_step=None, on_epoch=None):
    """Train the experiment's method for one seed: returns (method, splits, history). ``on_step`` and
    ``on_epoch`` are passed to :func:`mmlib.train.fit`."""
    method, splits, config = build_method(experiment, seed)
    history = fit(method, splits.train, splits.val, config, on_step=on_step, on_epoch=on_epoch,
                  select_on=validation_sets(experiment, splits, seed))
    return method, splits, history


def _run_seed(experiment: Experiment, seed: int) -> tuple[Record, dict]:
    """Train and score one run: its record and its trained weights."""
    method, splits, history = train_method(experiment, seed)
    return score_run(experiment, seed, method, splits, history), method.state_dict()


def trained(experiment: Experiment, seed: int, use_cache: bool = True):
    """The experiment's method trained for one seed, with its splits and its :class:`~mmlib.store.Record`:
    (method, splits, record). Train or load: when the run is in the results cache (:func:`records` keeps every
    run's weights beside its record) the weights are read back, else the run is trained, scored and kept. For the
    notebooks that look inside a trained model: a rebuild never trains it again, and two notebooks that need one
    run train it once (the run's lock, :func:`mmlib.store.exclusive`). The method comes back in evaluation mode,
    on the experiment's device."""
    if not use_cache:
        method, splits, history = train_method(experiment, seed)
        return method.eval(), splits, score_run(experiment, seed, method, splits, history)
    key = experiment.key(seed)
    with exclusive(key):
        record, state = load_record(key), load_weights(key)
        if record is None or state is None:
            method, splits, history = train_method(experiment, seed)
            record = score_run(experiment, seed, method, splits, history)
            save_record(key, record)
            save_weights(key, method.state_dict())
            return method.eval(), splits, record
    method, splits, config = build_method(experiment, seed)
    method.to(resolve_device(config.device))
    method.prepare(splits.train, splits.val, config)  # what training would have set up (frozen parts, flags)
    method.load_state_dict(state)
    return method.eval(), splits, record


def score_run(experiment: Experiment, seed: int, method, splits: Splits, history: list[dict]) -> Record:
    """The :class:`~mmlib.store.Record` of one trained run (``method`` trained on ``splits`` with ``history``, as
    :func:`train_method` returns them): its tidy scores under the experiment's test protocols, its per-epoch history
    and its per-class scores. A chapter that trains a run its own way (from other weights, say) scores it here."""
    device = resolve_device(experiment.device)
    rows, classes = [], []
    for text in experiment.test_protocols:
        protocol = parse_protocol(text, splits.spec)
        rows += evaluate(method, splits.test, protocol, seed=_mask_seed(experiment, seed), device=device,
                         classes=classes)
    run = dict(dataset=experiment.dataset, method=experiment.method, seed=seed)
    allowed = training_config(experiment, seed).epochs
    return Record(pd.DataFrame(rows).assign(**run)[COLUMNS],
                  pd.DataFrame(history).assign(**run, epochs_allowed=allowed),
                  pd.DataFrame(classes).assign(**run)[["dataset", "method", "seed", "protocol", "condition", "class",
                                                        "accuracy", "support"]])


def run(experiment: Experiment, use_cache: bool = True, workers: int | None = None) -> pd.DataFrame:
    """Train and score every seed of ``experiment`` (or read them from the cache): one tidy table."""
    return run_each([experiment], use_cache, workers)[0]


def run_all(experiments, use_cache: bool = True, workers: int | None = None) -> pd.DataFrame:
    """:func:`run` for several experiments, one table (seeds trained side by side, see :func:`run_each`)."""
    return pd.concat(run_each(experiments, use_cache, workers), ignore_index=True)


def run_each(experiments, use_cache: bool = True, workers: int | None = None) -> list[pd.DataFrame]:
    """:func:`run` for several experiments: one table per experiment, in order (see :func:`records`)."""
    return [record.results for record in records(experiments, use_cache, workers)]


def records(experiments, use_cache: bool = True, workers: int | None = None) -> list[Record]:
    """Each experiment's :class:`~mmlib.store.Record`, its seeds concatenated, in order: the tidy scores, the
    per-epoch histories and the per-class scores, from one training per (experiment, seed).

    The runs not in the cache are sent to a Dask cluster (:func:`map_in_workers` says which: ``$MMLIB_SCHEDULER``,
    else ``workers`` local single-threaded processes; with one worker and no scheduler, or a single run, they
    train in this process). A worker trains a run and sends back its record and weights; this process keeps them
    (:func:`mmlib.store.save_record`, :func:`~mmlib.store.save_weights`) as each run completes, so the cluster
    needs no access to this process's disk, and a run that fails loses none of the others.

    Two notebooks or scripts that need one run at the same time train it once: this process holds the run's lock
    (:func:`mmlib.store.exclusive`) from before the run is sent until it is kept. A run whose lock another process
    holds is not waited for but put back, and taken again once free, when it is read from the cache (or trained,
    if that process failed it). Only this process touches the locks and the cache's records, so the design is
    the same on a local or a remote cluster.

    A progress bar over the grid (runs done, of which read from the cache or failed, time left) is shown unless
    ``MMLIB_QUIET=1``. When runs failed, :class:`RunsFailed` names them after the others are done and kept.
    Training is single-threaded (:class:`~mmlib.train.TrainConfig` ``threads``), so a run's numbers do not depend
    on where it ran, and the models are small: two single-threaded runs side by side take about the time of one
    run on two threads. Experiments given together are compared: those on one dataset must share one budget
    (:func:`budget`), else nothing is trained and ValueError says which differ. Scripts that call this must guard
    their top level with ``if __name__ == "__main__":``, as for any :mod:`multiprocessing` program (notebooks need
    nothing)."""
    experiments = list(experiments)
    check_budgets(experiments)
    done: dict[str, Record] = {}
    jobs: dict[str, tuple[Experiment, int]] = {}
    for experiment in experiments:
        for seed in experiment.seed_list():
            key = experiment.key(seed)
            record = load_record(key) if use_cache else None
            if record is not None:
                done[key] = record
            elif key not in jobs:  # two spellings of one configuration train once
                jobs[key] = experiment, seed
    if jobs:
        if workers is None:
            workers = default_workers(next(iter(jobs.values()))[0].device)
        done.update(_train_runs(jobs, use_cache, workers, cached=len(done)))
    return [Record.concat(done[e.key(seed)] for seed in e.seed_list()) for e in experiments]


class RunsFailed(RuntimeError):
    """Runs of :func:`records` that raised, named, after the others were trained and kept: ``failures`` maps each
    run's cache key to (experiment, seed, error). The first error is the exception's ``__cause__``."""

    def __init__(self, failures: dict, finished: int, kept: bool = True):
        self.failures = failures
        named = "; ".join(f"{experiment.dataset} {experiment.method} seed {seed} (key {key}): "
                          f"{type(error).__name__}: {error}" for key, (experiment, seed, error) in failures.items())
        others = "are kept in the results cache" if kept else "finished"
        super().__init__(f"{len(failures)} of {len(failures) + finished} runs to train failed (the other {finished} "
                         f"{others}): {named}")


def _trained_run(experiment: Experiment, seed: int) -> tuple[Record, dict, str]:
    """One run of :func:`records`, where it is sent: its record, its weights (on the CPU, for the caller to keep)
    and the code version it ran, which the caller checks against its own."""
    record, state = _run_seed(experiment, seed)
    return record, {name: value.detach().cpu() for name, value in state.items()}, code_version()


def _train_runs(jobs: dict, use_cache: bool, workers: int, cached: int) -> dict[str, Record]:
    """Train ``jobs`` (cache key -> (experiment, seed)) for :func:`records`: their records, by key, each kept as
    it completes when ``use_cache``; RunsFailed after the others when some raised."""
    executor = _executor(workers, len(jobs))
    waiting, running, held = list(jobs), {}, {}
    done, failures = {}, {}
    bar = tqdm(total=cached + len(jobs), initial=cached, desc="runs", unit="run", dynamic_ncols=True,
               disable=os.environ.get("MMLIB_QUIET") == "1")
    bar.set_postfix(cached=cached, failed=0)

    def finish(key, record=None, error=None, from_cache=False):
        nonlocal cached
        if error is None:
            done[key] = record
        else:
            failures[key] = (*jobs[key], error)
        if key in held:
            held.pop(key).close()
        cached += from_cache
        bar.update()
        bar.set_postfix(cached=cached, failed=len(failures))

    try:
        while waiting or running:
            room = _in_flight(executor) - len(running)
            for key in list(waiting):
                if room <= 0:
                    break
                if use_cache:
                    lock = contextlib.ExitStack()
                    if not lock.enter_context(exclusive(key, wait=False)):
                        lock.close()  # another process is training it: come back to it
                        continue
                    held[key] = lock
                    record = load_record(key)  # another process may have kept it since the cache was read
                    if record is not None:
                        waiting.remove(key)
                        finish(key, record, from_cache=True)
                        continue
                waiting.remove(key)
                running[executor.submit(*_sent(_trained_run, jobs[key], executor))] = key
                room -= 1
            if not running:  # every run left is another process's: wait for one of them
                time.sleep(_POLL_SECONDS)
                continue
            finished, _ = concurrent.futures.wait(running, timeout=_POLL_SECONDS if waiting else None,
                                                  return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                key = running.pop(future)
                try:
                    record, state, version = future.result()
                    if version != code_version():
                        raise RuntimeError(f"the worker ran mmlib code {version}, this process has {code_version()}"
                                           ": restart this process after editing mmlib, and give a cluster's "
                                           "workers this checkout")
                    if use_cache:
                        save_record(key, record)
                        save_weights(key, state)
                except Exception as error:  # noqa: BLE001 - named after the grid, with the others kept
                    finish(key, error=error)
                else:
                    finish(key, record)
    finally:
        for future in running:
            future.cancel()
        for lock in held.values():
            lock.close()
        bar.close()
    if failures:
        raise RunsFailed(failures, len(done), kept=use_cache) from next(iter(failures.values()))[2]
    return done


def default_workers(device: str = "auto") -> int:
    """How many runs :func:`run_each` trains at once on the local cluster: ``$MMLIB_WORKERS``, else the CPU cores
    (at most 8), or 1 when the runs go to a GPU. (A cluster given by ``$MMLIB_SCHEDULER`` has its own workers.)"""
    if os.environ.get("MMLIB_WORKERS"):
        return max(1, int(os.environ["MMLIB_WORKERS"]))
    if resolve_device(device).type != "cpu":
        return 1
    return max(1, min(8, usable_cores()))


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity (a container's or a batch job's share), not the
    machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def map_in_workers(function, *iterables, workers: int | None = None):
    """Yield ``function(*arguments)`` for each tuple of arguments from ``iterables``, in order, as :func:`map`
    does, the calls sent to a Dask cluster: the scheduler at ``$MMLIB_SCHEDULER`` when it is set, else a local
    cluster of ``workers`` single-threaded processes (default: :func:`default_workers`), started on first use and
    kept for later calls, since it takes seconds to start; with one worker and no scheduler, or a single call,
    the calls run in this process (for debugging, or a GPU). A call that raises raises here, the calls not yet
    started cancelled. ``function`` must be importable where it runs (defined in a module, not in a notebook
    cell) and its arguments and results picklable. In a worker, calls run on one torch thread, with
    ``MMLIB_QUIET=1`` and, on the local cluster, this process's ``MMLIB_*`` settings (its results cache)."""
    jobs = list(zip(*iterables))
    executor = _executor(default_workers() if workers is None else workers, len(jobs))
    if isinstance(executor, _InProcess):  # one call at a time, as the results are asked for
        yield from (function(*arguments) for arguments in jobs)
        return
    futures = [executor.submit(*_sent(function, arguments, executor)) for arguments in jobs]
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


#: seconds between two looks at runs that another process is training
_POLL_SECONDS = 1.0


class _InProcess(concurrent.futures.Executor):
    """Calls run here, at once, when submitted: the executor of one worker without a scheduler."""

    def submit(self, function, /, *arguments):
        future = concurrent.futures.Future()
        try:
            future.set_result(function(*arguments))
        except Exception as error:  # noqa: BLE001 - raised by future.result(), as a worker's error is
            future.set_exception(error)
        return future


_CLUSTER: dict = {}  # "spec": the scheduler's address or the local worker count; "client"; "cluster" (local)


def _executor(workers: int, calls: int) -> concurrent.futures.Executor:
    """Where calls go: the cluster at ``$MMLIB_SCHEDULER``, else this process (one worker or one call), else the
    local cluster of ``workers`` processes (restarted when ``workers`` changes)."""
    address = os.environ.get("MMLIB_SCHEDULER")
    if not address and (workers <= 1 or calls <= 1):
        return _InProcess()
    spec = address or int(workers)
    client = _CLUSTER.get("client")
    if _CLUSTER.get("spec") != spec or client is None or client.status != "running":
        close_cluster()
        from distributed import Client, LocalCluster

        if address:
            _CLUSTER.update(spec=spec, client=Client(address, set_as_default=False))
        else:
            # memory_limit=0: no pausing or restarting of a worker at a share of the machine's memory (the old
            # process pool had none; a paused worker would hold its run forever). No dashboard, and the
            # scheduler's web server on a free port: several kernels on one machine would fight for 8787. The
            # nanny starts each worker with OMP_NUM_THREADS=1.
            cluster = LocalCluster(n_workers=spec, threads_per_worker=1, processes=True, memory_limit=0,
                                   dashboard_address=":0", scheduler_kwargs={"dashboard": False})
            _CLUSTER.update(spec=spec, cluster=cluster, client=Client(cluster, set_as_default=False))
        atexit.register(close_cluster)  # after distributed's own handlers, so before them at exit: closed quietly
    return _CLUSTER["client"].get_executor(pure=False)


def _in_flight(executor) -> int:
    """How many runs :func:`records` holds sent at once (each under its lock): one in this process; on a cluster,
    twice its threads, and at least 16 so that an adaptive cluster (dask-jobqueue) sees work to scale up for."""
    if isinstance(executor, _InProcess):
        return 1
    return max(16, 2 * sum(_CLUSTER["client"].nthreads().values()))


def _sent(function, arguments: tuple, executor) -> tuple:
    """What ``executor.submit`` takes to call ``function(*arguments)``: as it is in this process, through
    :func:`_in_worker` on a cluster."""
    if isinstance(executor, _InProcess):
        return (function, *arguments)
    settings = {}
    if "cluster" in _CLUSTER:  # a local cluster shares this machine: the same cache and data
        settings.update({name: value for name, value in os.environ.items() if name.startswith("MMLIB_")},
                        MMLIB_CACHE=str(cache_root()))
    # a call that itself calls map_in_workers runs those calls in its worker (a worker cannot start processes)
    settings.update(MMLIB_QUIET="1", MMLIB_NO_TRAINING=os.environ.get("MMLIB_NO_TRAINING", ""), MMLIB_WORKERS="1",
                    MMLIB_SCHEDULER="")
    return _in_worker, function, arguments, settings


def _in_worker(function, arguments: tuple, settings: dict):
    """Call ``function(*arguments)`` in a worker: one torch thread, progress bars off, the caller's settings."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.dict(os.environ, settings):
            return function(*arguments)
    finally:
        torch.set_num_threads(previous)


def close_cluster() -> None:
    """Close the client and the local cluster that :func:`map_in_workers` keeps (at exit, or to start afresh)."""
    client, cluster = _CLUSTER.pop("client", None), _CLUSTER.pop("cluster", None)
    _CLUSTER.clear()
    atexit.unregister(close_cluster)
    # A worker that has trained takes more than the nanny's few seconds to end (torch), and the nanny then kills it
    # with a warning: nothing to report.
    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)
    try:
        with contextlib.suppress(Exception):  # closing what is already gone
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close(timeout=3)  # the nanny kills a worker after 0.8 of it, rather than 4 s
    finally:
        nanny.setLevel(level)


def summarize(table: pd.DataFrame, by: tuple[str, ...] = ("dataset", "method", "protocol", "condition", "metric")
              ) -> pd.DataFrame:
    """Mean, standard deviation, count and 95% interval (Student t) over seeds, one row per group."""
    from scipy import stats

    grouped = table.groupby(list(by), sort=False)["value"]
    summary = grouped.agg(mean="mean", std="std", n="count").reset_index()
    summary["std"] = summary["std"].fillna(0.0)
    half = stats.t.ppf(0.975, (summary["n"] - 1).clip(lower=1)) * summary["std"] / np.sqrt(summary["n"])
    summary["ci95_low"] = summary["mean"] - half.where(summary["n"] > 1, np.nan)
    summary["ci95_high"] = summary["mean"] + half.where(summary["n"] > 1, np.nan)
    return summary

