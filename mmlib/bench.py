"""``python -m mmlib bench shapley``: what exact per-sample Shapley values of every modality cost in training.

For M = 3 (MOSI) and M = 6 (UCI mfeat), one training step of the ``transformer`` baseline (the step of
:func:`mmlib.train.fit`: forward, loss, backward, gradient clipping, Adam update) is timed with and without
the B x 2^M table of per-sample subset accuracies and its exact Shapley values, in the same run, the two kinds
of step interleaved, and the ratio of their medians printed. The table costs one batched pass of the fusion over
the 2^M subsets that reuses the step's encoder outputs (:meth:`TransformerFusion.subset_logits`).
MCE reports 12.7x for exact values at M = 3; DREAM calls M > 4 infeasible.
"""
from __future__ import annotations

import statistics
import time

import torch

from .data import load_dataset
from .methods import make_method
from .shapley import exact_shapley
from .train import training_step

TARGETS = {3: 1.5, 6: 3.0}  # the ratios the foundation issue asks for


def time_training_step(dataset: str, batch_size: int = 64, repeats: int = 20, seed: int = 0) -> dict:
    """Median seconds of one training step with and without exact Shapley values, and their ratio."""
    torch.manual_seed(seed)
    splits = load_dataset(dataset)
    method = make_method("transformer", splits.spec).train()
    config = method.recipe
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr)
    batch = splits.train.batch(torch.arange(batch_size))

    def shapley(batch, output):
        exact_shapley(method.subset_accuracy(batch, output.tokens))

    times = {None: [], shapley: []}
    for inspect in [None, shapley] * 3:  # warm-up
        training_step(method, batch, optimizer, params, config, inspect=inspect)
    for _ in range(repeats):
        for inspect in times:
            start = time.perf_counter()
            training_step(method, batch, optimizer, params, config, inspect=inspect)
            times[inspect].append(time.perf_counter() - start)
    plain, with_shapley = statistics.median(times[None]), statistics.median(times[shapley])
    return {"dataset": dataset, "M": splits.spec.num_modalities, "step_s": plain, "step_with_shapley_s": with_shapley,
            "ratio": with_shapley / plain}


def bench_shapley(repeats: int = 20, batch_size: int = 64) -> list[dict]:
    results = []
    print(f"one training step of the transformer baseline, batch {batch_size}, median of {repeats} (interleaved), "
          f"{torch.get_num_threads()} threads")
    for dataset in ("mosi", "mfeat"):
        result = time_training_step(dataset, batch_size, repeats)
        target = TARGETS[result["M"]]
        verdict = "within" if result["ratio"] <= target else "OVER"
        print(f"M={result['M']} ({dataset}, {2 ** result['M']} subsets): without {1e3 * result['step_s']:.2f} ms, "
              f"with exact Shapley {1e3 * result['step_with_shapley_s']:.2f} ms, ratio {result['ratio']:.2f}x "
              f"({verdict} the {target}x target)")
        results.append(result)
    return results
