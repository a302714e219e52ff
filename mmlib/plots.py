"""Figures that several chapters draw, and the book's house style.

Every notebook calls :func:`house_style` once, in its setup cell, so that every figure of the book has one look:
seaborn's theme with a colour-blind-safe palette, whose colours are also matplotlib's ``C0``, ``C1``, ... Figures
that show a spread over seeds draw it with seaborn (bars with the standard deviation, boxes, strips of the seeds);
2-D embeddings of representations come from :func:`embed` (t-SNE or UMAP, each computed once and kept) and are
drawn side by side by :func:`embeddings`.
"""
from __future__ import annotations

import inspect

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

__all__ = ["PALETTE", "VERDICT_COLOURS", "house_style", "palette", "seed_bars", "seed_lines", "subset_scores",
           "presence_picture", "convergence", "forest", "embed", "embeddings", "difference_heatmap"]

#: the book's palette: seaborn's colour-blind-safe one (after Okabe and Ito), reordered so that the first four colours
#: (blue, orange, bluish green, reddish purple) stay apart even as small dots; vermillion comes fifth
PALETTE = ["#0173b2", "#de8f05", "#029e73", "#cc78bc", "#d55e00", "#56b4e9", "#ca9161", "#949494", "#ece133", "#fbafe4"]
#: the claims ledger's verdicts, in the house palette (bluish green, vermillion, grey: told apart with any colour
#: vision), and drawn with different markers as well
VERDICT_COLOURS = {"supported": PALETTE[2], "contradicted": PALETTE[4], "inconclusive": PALETTE[7]}
EMBEDDING_NAMES = {"tsne": "t-SNE", "umap": "UMAP"}


def house_style() -> None:
    """Apply the book's one figure style (call it once, in a notebook's setup cell): seaborn's theme, white with a
    light grid, its "notebook" sizes a little smaller (figures here are 5 to 13 inches wide and shown at the book's
    column width) and the colour-blind-safe :data:`PALETTE` as the default colour cycle."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.85,
                  rc={"legend.frameon": False, "image.cmap": "viridis"})


def palette(levels) -> dict:
    """One colour per level (``levels`` in order), from the house palette while it has enough colours."""
    levels = list(levels)
    colours = sns.color_palette(PALETTE if len(levels) <= 10 else "husl", len(levels))
    return dict(zip(levels, colours))


def seed_bars(data: pd.DataFrame, x: str, y: str = "value", hue: str | None = None, order=None, hue_order=None,
              ax=None, legend: bool = True, seeds: bool = False):
    """Mean over seeds as bars, one standard deviation over seeds as error bars (seaborn): a bar per level of ``x``,
    and per level of ``hue`` side by side, in first-seen order unless ``order`` / ``hue_order`` say otherwise (one row
    of ``data`` per seed). ``seeds=True`` also draws every row as a dot. The ``hue`` legend, if any, sits outside
    the bars, on the right (``legend=False``: none, e.g. on all panels of a figure but one)."""
    ax = ax or plt.subplots(figsize=(6, 3.2))[1]
    order = list(dict.fromkeys(data[x])) if order is None else list(order)
    if hue is not None and hue_order is None:
        hue_order = list(dict.fromkeys(data[hue]))
    levels = dict(hue=hue, order=order, hue_order=hue_order)
    sns.barplot(data, x=x, y=y, **levels, palette=None if hue is None else palette(hue_order), errorbar="sd",
                capsize=0.15, err_kws={"linewidth": 1}, legend=legend and hue not in (None, x), ax=ax)
    if seeds:
        dots = dict(palette=dict.fromkeys(hue_order, "0.15")) if hue is not None else dict(color="0.15")
        sns.stripplot(data, x=x, y=y, **levels, **dots, dodge=hue not in (None, x), size=3, jitter=0.1, legend=False,
                      ax=ax)
    ax.set_xlabel(None)
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), title=None, fontsize=8)
    return ax


def seed_lines(data: pd.DataFrame, x: str, y: str = "value", hue: str | None = None, hue_order=None, ax=None,
               legend: bool = True, band: bool = False, label: str | None = None):
    """Mean over seeds at each ``x`` as a line with markers, one line per level of ``hue`` (first-seen order unless
    ``hue_order``), and one standard deviation over seeds as error bars, or as a shaded band (``band=True``)
    (seaborn; one row of ``data`` per seed). The legend of ``hue``, if any, sits outside the axes, on the right;
    ``label`` names the one line drawn without ``hue``, for a legend the caller draws."""
    ax = ax or plt.subplots(figsize=(6, 3.2))[1]
    if hue is not None and hue_order is None:
        hue_order = list(dict.fromkeys(data[hue]))
    sns.lineplot(data, x=x, y=y, hue=hue, hue_order=hue_order, palette=None if hue is None else palette(hue_order),
                 errorbar="sd", err_style="band" if band else "bars", err_kws={} if band else {"capsize": 3},
                 marker="o", markersize=5, legend=legend and hue is not None, ax=ax,
                 **({} if label is None else {"label": label}))
    if pd.api.types.is_integer_dtype(data[x]):  # epochs, counts: no ticks between whole numbers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), title=None, fontsize=8)
    return ax


def subset_scores(table: pd.DataFrame, metric: str = "accuracy", ax=None, title: str | None = None,
                  chance: float | None = None):
    """Mean and standard deviation over seeds of each method on each test condition of one dataset: grouped bars
    (seaborn), conditions in the order they appear in the table (the papers' order for subsets); the legend sits
    outside the bars, on the right."""
    rows = table[table.metric == metric]
    conditions = list(dict.fromkeys(rows.condition))
    methods = list(dict.fromkeys(rows.method))
    ax = ax or plt.subplots(figsize=(max(6, 0.55 * len(conditions) * len(methods) / 2), 3.2))[1]
    seed_bars(rows, "condition", hue="method", order=conditions, hue_order=methods, ax=ax)
    if chance is not None:
        ax.axhline(chance, color="grey", lw=1, ls="--", label="chance")
    slanted = len(conditions) > 3
    ax.tick_params(axis="x", labelrotation=45 if slanted else 0, labelsize=8 if len(conditions) < 20 else 5)
    if slanted:
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set(xlabel=None, ylabel=metric.replace("_", " "))
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def presence_picture(present: np.ndarray, names, ax=None, title: str | None = None, xlabel: str = "sample"):
    """Which modality each sample has: a modalities x samples picture, dark = present."""
    ax = ax or plt.subplots(figsize=(6, 1.2))[1]
    ax.imshow(np.asarray(present).T, aspect="auto", cmap="Greys", vmin=0, vmax=1.4, interpolation="nearest")
    ax.grid(False)  # the house style's grid would cross the picture
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


def forest(table: pd.DataFrame, ax=None, title: str | None = None, legend: bool = True):
    """The claims ledger's forest plot (:func:`mmlib.claims.ledger` rows): our effect and 95% interval per claim,
    coloured and shaped by verdict (:data:`VERDICT_COLOURS`), beside the paper's effect (a black cross), one row per
    claim with an effect, in the table's order from the top. The legend, if drawn, sits right of the axes."""
    rows = table[pd.to_numeric(table["effect"], errors="coerce").notna()].reset_index(drop=True)
    values = {column: pd.to_numeric(rows[column], errors="coerce") for column in ("effect", "low", "high",
                                                                                 "paper_effect")}
    ax = ax or plt.subplots(figsize=(7.5, 0.28 * max(len(rows), 4) + 1.0))[1]
    positions = np.arange(len(rows))[::-1]
    verdicts = list(VERDICT_COLOURS)
    ax.hlines(positions, values["low"], values["high"], colors=rows["verdict"].map(VERDICT_COLOURS).fillna("grey"),
              lw=2)
    sns.scatterplot(x=values["effect"], y=positions, hue=rows["verdict"], style=rows["verdict"], hue_order=verdicts,
                    style_order=verdicts, palette=VERDICT_COLOURS, markers=["o", "s", "D"], s=30, zorder=3,
                    legend=legend, ax=ax)
    ax.scatter(values["paper_effect"], positions, marker="x", color="black", s=25, zorder=4, label="paper's effect")
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(positions, list(rows["id"]), fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("effect: method minus comparator (in each claim's unit)", fontsize=8)
    if legend:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def embed(points, method: str = "tsne", seed: int = 0, perplexity: float = 30.0, neighbours: int = 15,
          min_dist: float = 0.1) -> np.ndarray:
    """A 2-D embedding (N x 2) of ``points`` (N x D), seeded: ``method="tsne"``, scikit-learn's t-SNE, PCA-initialised,
    the perplexity at most N / 4; or ``method="umap"``, umap-learn's UMAP with ``neighbours`` nearest neighbours (at
    most N - 1) and ``min_dist``. A seeded UMAP (``random_state``) runs single-threaded, which is what makes it give
    the same embedding again on the same machine; its first call in a process compiles umap-learn's code with numba
    (seconds). Computed once and kept (:func:`mmlib.trained.compute_once`, keyed on the points' values, the method's
    settings and the version of the package that computes it): a rebuild reads it, without importing the package."""
    from .trained import compute_once

    points = np.asarray(points)
    if method == "tsne":
        import sklearn

        settings = dict(n_components=2, perplexity=min(perplexity, len(points) // 4), init="pca", random_state=seed)
        version = sklearn.__version__

        def compute():
            from sklearn.manifold import TSNE

            return TSNE(**settings).fit_transform(points)
    elif method == "umap":
        from importlib.metadata import version as package_version

        # n_jobs=1 says what random_state implies (umap-learn would otherwise warn that it overrides n_jobs)
        settings = dict(n_components=2, n_neighbors=min(neighbours, len(points) - 1), min_dist=min_dist,
                        random_state=seed, n_jobs=1)
        version = package_version("umap-learn")

        def compute():
            import warnings

            with warnings.catch_warnings():  # what umap-learn's import says of packages a seeded UMAP does not use:
                warnings.simplefilter("ignore", ImportWarning)  # TensorFlow (its ParametricUMAP)
                warnings.filterwarnings("ignore", "IProgress not found")  # ipywidgets (tqdm's notebook bars)
                import umap

            return umap.UMAP(**settings).fit_transform(points)
    else:
        raise ValueError(f"unknown embedding {method!r}: 'tsne' or 'umap'")
    # plots.py is outside the code version (mmlib.store.NOT_RESULTS): the settings, the package's version and this
    # function's own code key it
    return compute_once(method, (points, sorted(settings.items()), version, inspect.getsource(embed)), compute)


def embeddings(points, hue, style=None, seed: int = 0, axes=None, title: str | None = None, hue_title: str = "group",
               style_title: str = "kind", hue_order=None, style_order=None, legend: bool = True, size: float = 10):
    """t-SNE and UMAP of the same ``points`` side by side (:func:`embed`, seeded, each computed once and kept), each
    point coloured by its ``hue`` (and shaped by its ``style``) alike in both panels, with one legend for the figure,
    outside the panels on the right. ``axes``: the two panels to draw into (default: a new figure); a figure of
    several rows passes each row's pair and ``legend=True`` for one row only (with the same levels in every row),
    and uses the constrained layout this sets, not ``tight_layout``. Numeric ``hue`` or ``style`` values are
    levels, in increasing order unless ``*_order`` says otherwise; other values keep their first-seen order.
    Returns the two axes."""
    if axes is None:
        axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")[1]
    frame = pd.DataFrame({hue_title: np.asarray(hue)})
    hue_order = _levels(frame[hue_title], hue_order)
    frame[hue_title] = frame[hue_title].astype(str)
    if style is not None:
        frame[style_title] = np.asarray(style)
        style_order = _levels(frame[style_title], style_order)
        frame[style_title] = frame[style_title].astype(str)
    for ax, method in zip(axes, EMBEDDING_NAMES):
        xy = embed(points, method, seed=seed)
        sns.scatterplot(frame.assign(x=xy[:, 0], y=xy[:, 1]), x="x", y="y", hue=hue_title, hue_order=hue_order,
                        palette=palette(hue_order), style=None if style is None else style_title,
                        style_order=style_order, s=size, alpha=0.7, linewidth=0, legend=legend and ax is axes[0],
                        ax=ax)
        name = EMBEDDING_NAMES[method]
        ax.set(xticks=[], yticks=[], xlabel=None, ylabel=None, title=f"{title}: {name}" if title else name)
    if legend:
        figure = axes[0].figure
        figure.set_layout_engine("constrained")
        handles, labels = axes[0].get_legend_handles_labels()
        axes[0].get_legend().remove()
        figure.legend(handles, labels, loc="outside right center", fontsize=8, markerscale=1.5)
    return axes


def _levels(values: pd.Series, order) -> list[str]:
    """The levels of ``values`` as strings: ``order`` if given, else numbers in increasing order and anything else in
    first-seen order."""
    if order is None:
        order = sorted(values.unique()) if pd.api.types.is_numeric_dtype(values) else list(dict.fromkeys(values))
    return [str(level) for level in order]


def difference_heatmap(table: pd.DataFrame, ax=None, title: str | None = None, unit: str = "points"):
    """A methods x columns heatmap of differences (``table``: rows methods, columns e.g. protocol families),
    centred on 0 with a diverging map (blue above, vermillion below) and each cell's value written in it."""
    ax = ax or plt.subplots(figsize=(1.1 * len(table.columns) + 3, 0.45 * len(table) + 1.5))[1]
    limit = float(np.nanmax(np.abs(table.to_numpy(dtype=float)))) or 1.0
    colours = sns.blend_palette([PALETTE[4], "#f7f7f7", PALETTE[0]], as_cmap=True)
    sns.heatmap(table.astype(float), ax=ax, cmap=colours, vmin=-limit, vmax=limit, center=0.0, annot=True,
                fmt="+.1f", linewidths=0.5, cbar_kws={"label": unit})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    if title:
        ax.set_title(title)
    return ax
