"""Figures that several chapters draw."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .experiment import summarize

__all__ = ["subset_scores", "presence_picture", "convergence", "tsne"]


def subset_scores(table: pd.DataFrame, metric: str = "accuracy", ax=None, title: str | None = None,
                  chance: float | None = None):
    """Mean and standard deviation over seeds of each method on each test condition of one dataset: grouped bars,
    conditions in the order they appear in the table (the papers' order for subsets)."""
    rows = summarize(table[table.metric == metric], by=("method", "condition"))
    conditions = list(dict.fromkeys(table.condition))
    methods = list(dict.fromkeys(table.method))
    ax = ax or plt.subplots(figsize=(max(6, 0.55 * len(conditions) * len(methods) / 2), 3.2))[1]
    width = 0.8 / len(methods)
    positions = np.arange(len(conditions))
    for i, method in enumerate(methods):
        part = rows[rows.method == method].set_index("condition").reindex(conditions)
        ax.bar(positions + (i - (len(methods) - 1) / 2) * width, part["mean"], width, yerr=part["std"],
               label=method, capsize=2)
    if chance is not None:
        ax.axhline(chance, color="grey", lw=1, ls="--", label="chance")
    ax.set_xticks(positions, conditions, rotation=45 if len(conditions) > 3 else 0, ha="right" if len(conditions) > 3 else "center",
                  fontsize=8 if len(conditions) < 20 else 5)
    ax.set_ylabel(metric.replace("_", " "))
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, ncols=len(methods) + 1, loc="lower right")
    return ax


def presence_picture(present: np.ndarray, names, ax=None, title: str | None = None, xlabel: str = "sample"):
    """Which modality each sample has: a modalities x samples picture, dark = present."""
    ax = ax or plt.subplots(figsize=(6, 1.2))[1]
    ax.imshow(np.asarray(present).T, aspect="auto", cmap="Greys", vmin=0, vmax=1.4, interpolation="nearest")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def convergence(history: pd.DataFrame, by: str = "method", ax=None, title: str | None = None):
    """Validation score per epoch, one line per ``by`` (mean over the runs still training at that epoch), from the
    per-epoch histories of runs (:attr:`mmlib.store.Record.history`). A dot marks the mean kept epoch; the dashed
    line is the last epoch the budget allowed. The legend gives each line's share of runs that kept that last
    epoch (:func:`mmlib.store.under_trained`)."""
    from .store import under_trained

    ax = ax or plt.subplots(figsize=(6, 3.2))[1]
    for label, runs in history.groupby(by, sort=False):
        curve = runs.groupby("epoch")["val_score"].mean()
        kept = runs[runs["kept"].astype(bool)]
        line, = ax.plot(curve.index + 1, curve.values, lw=1.5,
                        label=f"{label} ({under_trained(runs):.0%} at the last epoch)")
        ax.plot(kept["epoch"].mean() + 1, kept["val_score"].mean(), "o", color=line.get_color(), ms=5)
    ax.axvline(history["epochs_allowed"].max(), color="grey", lw=1, ls="--")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation score")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def tsne(points, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE embedding (N x 2) of ``points`` (N x D): scikit-learn's, PCA-initialised, seeded, the perplexity
    at most N / 4. Computed once and kept (:func:`mmlib.trained.compute_once`, keyed on the points' values), since
    it takes tens of seconds: a rebuild reads it."""
    import sklearn
    from sklearn.manifold import TSNE

    from .trained import compute_once

    points = np.asarray(points)
    settings = dict(n_components=2, perplexity=min(perplexity, len(points) // 4), init="pca", random_state=seed)
    embed = lambda: TSNE(**settings).fit_transform(points)  # noqa: E731
    # plots.py is outside the code version (mmlib.store.NOT_RESULTS): the settings and scikit-learn's version key it
    return compute_once("tsne", (points, sorted(settings.items()), sklearn.__version__), embed)
