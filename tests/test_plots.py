"""The book's figures (mmlib.plots): one house style, 2-D embeddings computed once and kept, the t-SNE and UMAP
panels side by side with one legend."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from mmlib import plots  # noqa: E402


@pytest.fixture
def points():
    """60 points in three separated groups of 20 (8 dimensions), and their group."""
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1, 2], 20)
    return rng.normal(size=(60, 8)) + 4 * groups[:, None], groups


@pytest.fixture(autouse=True)
def restore_style():
    with matplotlib.rc_context():
        yield
    plt.close("all")


def test_house_style_sets_the_theme_and_the_colour_blind_palette():
    plots.house_style()
    cycle = [to_hex(colour) for colour in plt.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert cycle == [to_hex(colour) for colour in plots.PALETTE]
    assert plt.rcParams["axes.grid"]  # seaborn's whitegrid
    assert to_hex(plt.rcParams["axes.facecolor"]) == "#ffffff"
    assert set(plots.VERDICT_COLOURS.values()) <= set(plots.PALETTE)
    fig, ax = plt.subplots()
    line, = ax.plot([0, 1])
    assert to_hex(line.get_color()) == to_hex(plots.PALETTE[0])  # "C0" is the house palette's first colour


def kept(cache, method):
    return sorted((cache / "computed").glob(f"{method}-*.pkl"))


def test_umap_is_an_n_by_2_array_computed_once_then_read_back(monkeypatch, tmp_path, points):
    umap = pytest.importorskip("umap")
    x, _ = points
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "first"))
    embedded = plots.embed(x, "umap", seed=0)
    assert embedded.shape == (60, 2) and np.isfinite(embedded).all()
    assert len(kept(tmp_path / "first", "umap")) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("computed again instead of read from the cache")

    with monkeypatch.context() as patched:
        patched.setattr(umap, "UMAP", refuse)
        again = plots.embed(x, "umap", seed=0)  # read back: UMAP is not called
    np.testing.assert_array_equal(again, embedded)

    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "second"))  # an empty cache: computed afresh
    np.testing.assert_array_equal(plots.embed(x, "umap", seed=0), embedded)  # seeded: the same embedding
    assert len(kept(tmp_path / "second", "umap")) == 1


def test_other_settings_or_points_are_kept_under_another_key(monkeypatch, tmp_path, points):
    pytest.importorskip("umap")
    x, _ = points
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    plots.embed(x, "umap", seed=0)
    plots.embed(x, "umap", seed=1)
    plots.embed(x, "umap", seed=0, neighbours=10)
    plots.embed(x + 1, "umap", seed=0)
    plots.embed(x, "umap", seed=0)  # as the first: read back, nothing new kept
    assert len(kept(tmp_path, "umap")) == 4
    tsne = plots.embed(x, "tsne", seed=0)
    assert tsne.shape == (60, 2) and len(kept(tmp_path, "tsne")) == 1
    with pytest.raises(ValueError, match="unknown embedding"):
        plots.embed(x, "pca")


def test_embeddings_draws_tsne_and_umap_side_by_side_with_one_legend(monkeypatch, tmp_path, points):
    pytest.importorskip("umap")
    x, groups = points
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    plots.house_style()
    kind = np.where(np.arange(60) % 2, "real", "projected")
    axes = plots.embeddings(x, groups, style=kind, hue_title="class", style_title="tokens", title="toy")
    figure = axes[0].figure
    assert [ax.get_title() for ax in axes] == ["toy: t-SNE", "toy: UMAP"]
    assert all(ax.get_legend() is None for ax in figure.axes) and len(figure.legends) == 1
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == ["class", "0", "1", "2", "tokens", "projected", "real"]
    # the same colour for the same point (so the same class) in both panels
    colours = [ax.collections[0].get_facecolors() for ax in axes]
    assert len(colours[0]) == 60
    np.testing.assert_allclose(colours[0], colours[1])
    assert len({tuple(colour) for colour in colours[0]}) == 3
    # positions: the two embeddings, as kept
    np.testing.assert_allclose(axes[0].collections[0].get_offsets(), plots.embed(x, "tsne"), rtol=1e-6)
    np.testing.assert_allclose(axes[1].collections[0].get_offsets(), plots.embed(x, "umap"), rtol=1e-6)
    assert axes[0].get_position().x1 <= axes[1].get_position().x0  # side by side, left to right


def test_seed_bars_and_the_forest_plot_draw_one_mark_per_row():
    plots.house_style()
    table = pd.DataFrame([dict(condition=c, method=m, seed=s, value=0.5 + 0.1 * s)
                          for c in ("text", "audio") for m in ("a", "b", "c") for s in range(3)])
    ax = plots.seed_bars(table, "condition", hue="method", seeds=True)
    assert len(ax.patches) >= 6 and ax.get_legend() is not None
    heights = sorted({round(patch.get_height(), 6) for patch in ax.patches if patch.get_height() > 0})
    assert heights == [0.6]  # the mean over the three seeds
    ledger = pd.DataFrame({"id": ["a.one", "a.two", "a.three"], "effect": [1.0, -2.0, np.nan],
                           "low": [0.5, -3.0, np.nan], "high": [1.5, -1.0, np.nan], "paper_effect": [2.0, np.nan, 1.0],
                           "verdict": ["supported", "contradicted", "not tested"]})
    ax = plots.forest(ledger, title="effects in pts")
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a.one", "a.two"]
    assert "paper's effect" in [text.get_text() for text in ax.get_legend().get_texts()]
