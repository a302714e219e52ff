"""The MGR chapter's grid helpers of issue 17: frame tokens on AVLetters (the encoders' own), Figures 1 and 5 read
through the results cache on the multimodal tokens, and the cost per step."""
import importlib

import numpy as np
import pytest
import torch

from mmlib.data import load_dataset
from mmlib.methods import make_method
from mmlib.store import load_record


@pytest.fixture(scope="module")
def grid():
    return importlib.import_module("mmbook.mgr.grid")


def test_avletters_tokens_are_frames(grid):
    """One token per lip frame: changing video frame t changes only the tokens within the encoder's convolution
    (t-1..t+1); with 4 pooled tokens per modality (the vector sets' setting) it would change a whole span."""
    chapter = grid.Chapter("quick")
    options = chapter.model("avletters", "mgr")
    data = load_dataset("avletters").train.subset(np.arange(4))
    method = make_method("mgr", data.spec, **options).eval()
    batch = data.batch()
    video = batch.x["video"].clone()
    video[:, 20] += 1.0
    with torch.no_grad():
        before = method.encode(batch)["video"]
        after = method.encode(batch.__class__(**{**batch.__dict__, "x": {**batch.x, "video": video}}))["video"]
    changed = (before - after).abs().amax((0, 2)) > 1e-6
    assert before.shape[1] == data.spec.modalities[1].shape[0] == 40
    assert changed.nonzero().flatten().tolist() == [19, 20, 21]


def test_every_model_of_the_chapter_reads_eq_1_in_the_paper_s_form(grid):
    chapter = grid.Chapter("quick")
    for method in ("transformer", "maps", "mgr"):
        assert chapter.model("mosi", method)["embedding"] == "paper"
    assert "embedding" not in chapter.model("mosi", "dropout")
    assert chapter.model("mosi", "mgr")["num_tokens"] == 4


def test_table_1_runs_avletters_at_quick_under_one_budget(grid):
    from mmlib.experiment import budget

    chapter = grid.Chapter("quick")
    settings = [s for s in chapter.main_settings() if s["dataset"] == "avletters"]
    assert {s["method"] for s in settings} == {"transformer", "maps", "mgr"}
    budgets = {budget(e) for e in chapter.experiments(settings)[0]}
    assert len(budgets) == 1


def test_multimodal_tokens_are_eq_2_s_output_without_cls(grid):
    data = load_dataset("mosi").test.subset(np.arange(6))
    for name in ("transformer", "maps", "mgr"):
        method = make_method(name, data.spec, d_model=16, num_tokens=4, embedding="paper").eval()
        batch = data.batch()
        with torch.no_grad():
            features, tokens = grid.multimodal_tokens(method, batch)
            assert tokens.shape == (6, 12, 16)
            assert torch.allclose(features, method(batch).features)
            if name == "transformer":  # h = Transformer(x) of Eq. 2, [CLS] dropped
                expected = method.fusion(method.embed(method.encode(batch), batch.present))[:, 1:]
                assert torch.allclose(tokens, expected)


def test_shift_and_gap_are_scale_free_and_zero_without_movement(grid):
    rng = np.random.default_rng(0)
    complete = rng.normal(size=(40, 3, 5))
    y = np.arange(40) % 4
    moved = {"complete": complete, "a absent": complete + 0.5}
    still = {"complete": complete, "a absent": complete.copy()}
    assert grid.shift(still)["a absent"] == 0 and grid.heterogeneity_gap(still, y)["a absent"] == 0
    scaled = {k: 10 * v for k, v in moved.items()}
    assert grid.shift(moved)["a absent"] == pytest.approx(grid.shift(scaled)["a absent"])
    assert grid.heterogeneity_gap(moved, y)["a absent"] == pytest.approx(grid.heterogeneity_gap(scaled, y)["a absent"])
    assert grid.shift(moved)["a absent"] > 0


def test_figures_1_and_5_read_their_runs_through_the_results_cache(grid, monkeypatch):
    """The runs are trained once and kept in the results cache; a second reading trains nothing
    (MMLIB_NO_TRAINING=1 makes any training raise)."""
    chapter = grid.Chapter("smoke")
    experiment = chapter.experiment("mosi", "mgr", 0.7, 0, seeds=(0,))
    first = grid.representations([experiment], [0])[0]
    assert load_record(experiment.key(0)) is not None
    monkeypatch.setenv("MMLIB_NO_TRAINING", "1")
    again = grid.representations([experiment], [0])[0]
    assert set(again["tokens"]) == {"complete", "text absent", "audio absent", "video absent"}
    assert np.allclose(first["tokens"]["complete"], again["tokens"]["complete"], atol=1e-6)
    assert list(first["token_modality"]) == ["text"] * 4 + ["audio"] * 4 + ["video"] * 4


def test_step_cost_counts_parameters_and_times_both_models(grid):
    chapter = grid.Chapter("smoke")
    cost = grid.step_cost(chapter, "mosi", steps=2, repeats=1)
    data = load_dataset("mosi")
    counts = {m: sum(p.numel() for p in make_method(m, data.spec, **chapter.model("mosi", m)).parameters())
              for m in ("transformer", "mgr")}
    assert cost.loc["mgr", "parameters"] == counts["mgr"]
    assert cost.loc["mgr", "parameters ratio"] == pytest.approx(counts["mgr"] / counts["transformer"])
    assert cost.loc["transformer", "time ratio"] == 1 and (cost["step (ms)"] > 0).all()
