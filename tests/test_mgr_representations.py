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


@pytest.mark.parametrize("profile, tokens, changed_tokens", [("paper", 40, [19, 20, 21]), ("quick", 20, [9, 10]),
                                                            ("smoke", 20, [9, 10])])
def test_avletters_tokens_are_frames(grid, profile, tokens, changed_tokens):
    """The encoder's own frames in time order: at paper one token per lip frame, so changing video frame 20 changes
    only the tokens within the encoder's convolution (frames 19-21); at smoke and quick (the CPU budget) two frames a
    token, so it changes tokens 9 (frames 18-19) and 10 (frames 20-21). With 4 pooled tokens per modality (the
    vector sets' setting) it would change a whole span of 10 frames' token."""
    chapter = grid.Chapter(profile)
    options = {**chapter.model("avletters", "mgr"), "d_model": 32}
    data = load_dataset("avletters").train.subset(np.arange(4))
    method = make_method("mgr", data.spec, **options).eval()
    batch = data.batch()
    video = batch.x["video"].clone()
    video[:, 20] += 1.0
    with torch.no_grad():
        before = method.encode(batch)["video"]
        after = method.encode(batch.__class__(**{**batch.__dict__, "x": {**batch.x, "video": video}}))["video"]
    changed = (before - after).abs().amax((0, 2)) > 1e-6
    assert data.spec.modalities[1].shape[0] == 40 and before.shape[1] == tokens
    assert changed.nonzero().flatten().tolist() == changed_tokens


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


def test_what_quick_leaves_out_is_computed_from_the_grids(grid):
    """The page's sentence on quick's cuts (:func:`left_out`) names each grid's cut, read from the two profiles'
    grids: Scene-15's column, AVLetters' two-frame tokens, Tables 3-4, the insertion variants and Figure 4's
    extra L_T and rho, the learning-rate check on Scene-15; and nothing at paper."""
    quick = grid.left_out(grid.Chapter("quick"))
    assert "Scene-15 at κ = 0.7" in quick and "AVLetters 20 tokens per modality, not 40" in quick
    assert "Tables 3-4 (none of their settings)" in quick
    assert "Summation, MAPs/Attn., MAPs/Input, L_T=1, L_T=3, rho=0.25, rho=0.75" in quick
    assert "the learning-rate check on Scene-15" in quick
    assert "MOSI at κ = 0.7" not in quick and "w/o" not in quick and "L_T=0" not in quick  # what quick runs
    assert grid.left_out(grid.Chapter("paper")) == ""
    smoke = grid.left_out(grid.Chapter("smoke"))
    assert "Tables 3-4: 4 of the 18 settings" in smoke and "Summation" not in smoke


def test_quick_runs_every_variant_a_tested_ablation_claim_reads(grid):
    """At quick the ablations keep the variants of the claims they still test (components, refinement: L_T = 0
    against the default), so that cutting the grid cannot silently drop a claim's comparator."""
    variants = grid.Chapter("quick").ablation_variants()
    for name in ("Token", "MGR", "w/o mixed-context", "w/o L_div", "w/o h_u", "L_T=0", "L_T=2"):
        assert name in variants
    assert not {"Summation", "L_T=1", "rho=0.25"} & set(variants)
