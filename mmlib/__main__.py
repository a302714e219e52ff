"""The command line: ``python -m mmlib datasets | run | benchmark | bench``.

    python -m mmlib datasets
    python -m mmlib run --dataset mosi --method dropout --protocol subsets --seeds 0 1 2 --out results.csv
    python -m mmlib benchmark --profile quick [--datasets ...] [--methods ...] [--families ...] --out results.csv
    python -m mmlib bench shapley
    python -m mmlib bench training [--profile quick] [--datasets ...] [--methods ...]

A bad argument gets one clear line on stderr and exit status 2, not a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", str(min(4, os.cpu_count() or 1)))


def _datasets(args) -> None:
    import pandas as pd

    from .data import describe_datasets

    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(describe_datasets(args.data_dir).to_string(index=False))


def _run(args) -> None:
    from .experiment import Experiment, run
    from .methods import METHODS

    if args.method not in METHODS:
        raise ValueError(f"unknown method {args.method!r}; available: {', '.join(sorted(METHODS))}")
    _writable(args.out, "--out")
    experiment = Experiment(dataset=args.dataset, method=args.method, seeds=tuple(args.seeds) if args.seeds else None,
                            test_protocols=tuple(args.protocol), train_protocol=args.train_protocol,
                            profile=args.profile, device=args.device, data_dir=args.data_dir)
    table = run(experiment, use_cache=not args.no_cache)
    summary = (table.groupby(["protocol", "condition", "metric"], sort=False)["value"].agg(["mean", "std", "count"])
               .reset_index())
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {len(table)} rows to {args.out}")


def _writable(path: str | None, flag: str) -> None:
    """ValueError before any training when ``path`` cannot be written (a bad path would throw the runs away)."""
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{flag} {path}: the folder {folder} does not exist")
    if os.path.isdir(path) or not os.access(folder, os.W_OK):
        raise ValueError(f"{flag} {path}: cannot write a file there")


def _benchmark(args) -> None:
    from .benchmark import cell_scores, run_benchmark

    _writable(args.out, "--out")
    _writable(args.runs, "--runs")
    results, runs = run_benchmark(args.profile, args.datasets, args.methods, args.families, args.data_dir,
                                  use_cache=not args.no_cache, seeds=args.seeds, device=args.device)
    scores = cell_scores(results).groupby(["dataset", "family", "method"], sort=False)["value"].mean()
    print(scores.unstack("method").to_string(float_format=lambda v: f"{v:.3f}"))
    if args.out:
        results.to_csv(args.out, index=False)
        print(f"wrote {len(results)} rows to {args.out}")
    if args.runs:
        runs.to_csv(args.runs, index=False)
        print(f"wrote {len(runs)} runs (trial, parameters, seconds) to {args.runs}")


def _bench(args) -> None:
    from .bench import TRAINING_DATASETS, TRAINING_METHODS, bench_shapley, bench_training

    if args.what == "shapley":
        bench_shapley(repeats=args.repeats, batch_size=args.batch_size)
    else:
        bench_training(args.profile, args.datasets or TRAINING_DATASETS, args.methods or TRAINING_METHODS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmlib", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    datasets = commands.add_parser("datasets", help="list the datasets with modalities, sizes and classes")
    datasets.add_argument("--data-dir", default=None)
    datasets.set_defaults(handler=_datasets)

    runner = commands.add_parser("run", help="train a method and score it under missing-modality protocols")
    runner.add_argument("--dataset", required=True, help="a dataset name (see `datasets`) or npz:PATH")
    runner.add_argument("--method", required=True)
    runner.add_argument("--protocol", nargs="+", default=["subsets"],
                        help="test protocols: subsets, frames:R, heterogeneous:ETA, absent:M=R, kappa:K, rates:M=R,..")
    runner.add_argument("--train-protocol", default=None, help="protocol applied to the training and validation splits")
    runner.add_argument("--seeds", nargs="+", type=int, default=None)
    runner.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"])
    runner.add_argument("--device", default="auto")
    runner.add_argument("--data-dir", default=None)
    runner.add_argument("--out", default=None, help="write the tidy table to this CSV")
    runner.add_argument("--no-cache", action="store_true", help="retrain even when a cached result exists")
    runner.set_defaults(handler=_run)

    benchmark = commands.add_parser("benchmark", help="every method under every protocol family, tuned alike "
                                    "(mmlib.benchmark); MMLIB_SCHEDULER=tcp://host:port sends the runs to a cluster")
    benchmark.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"])
    benchmark.add_argument("--datasets", nargs="+", default=None, help="default: the profile's")
    benchmark.add_argument("--methods", nargs="+", default=None, help="default: every benchmarked method")
    benchmark.add_argument("--families", nargs="+", default=None, help="protocol families (default: all); quote "
                           "names with spaces, e.g. 'test only'")
    benchmark.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the profile's")
    benchmark.add_argument("--device", default="auto")
    benchmark.add_argument("--data-dir", default=None)
    benchmark.add_argument("--out", default=None, help="write the tidy results table (with a family column) here")
    benchmark.add_argument("--runs", default=None, help="write one row per run (chosen trial, parameters, seconds)")
    benchmark.add_argument("--no-cache", action="store_true", help="retrain even when a cached result exists")
    benchmark.set_defaults(handler=_benchmark)

    bench = commands.add_parser("bench", help="timing benchmarks")
    bench.add_argument("what", choices=["shapley", "training"])
    bench.add_argument("--repeats", type=int, default=20, help="shapley: timed steps")
    bench.add_argument("--batch-size", type=int, default=64, help="shapley: batch size")
    bench.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"], help="training: the budget")
    bench.add_argument("--datasets", nargs="+", default=None, help="training: the datasets (default mosi cub avletters)")
    bench.add_argument("--methods", nargs="+", default=None, help="training: the methods (default: all eight)")
    bench.set_defaults(handler=_bench)

    args = parser.parse_args(argv)
    from .data.core import DataError
    from .experiment import RunsFailed

    bad_argument = (DataError, ValueError, KeyError, FileNotFoundError)
    try:
        try:
            args.handler(args)
        except RunsFailed as failed:  # runs that a bad argument failed (a dataset not found): that one line
            causes = [error for *_, error in failed.failures.values()]
            if not all(isinstance(error, bad_argument) for error in causes):
                raise
            raise causes[0] from failed
    except bad_argument as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
