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


@pytest.mark.parametrize("profile, tokens, changed_tokens", [("paper", 40, [18, 19, 20, 21, 22, 23]),
                                                            ("quick", 20, [9, 10, 11]), ("smoke", 20, [9, 10, 11])])
def test_avletters_tokens_are_frames(grid, profile, tokens, changed_tokens):
    """The encoder's own frames in time order. Tokens are equal spans of each clip's own real frames
    (``mmlib.nn.span_weights``, since b94b077), so on clips of 20 real video frames (of the 40 the data pads to):
    at smoke and quick (20 tokens) one frame a token, and changing frame 10 changes only the tokens within the
    encoder's convolution (frames 9-11: tokens 9-11); at paper (40 tokens) each frame is two tokens (18-23). With
    4 pooled tokens per modality (the vector sets' setting) it would change a whole span of 5 frames' token."""
    chapter = grid.Chapter(profile)
    options = {**chapter.model("avletters", "mgr"), "d_model": 32}
    train = load_dataset("avletters").train
    mask = train.frame_mask["video"]
    clips = np.flatnonzero((mask.sum(1) == 20).numpy() & mask[:, :20].all(1).numpy())[:4]  # frames 0-19 real
    assert len(clips) == 4
    data = train.subset(clips)
    method = make_method("mgr", data.spec, **options).eval()
    batch = data.batch()
    video = batch.x["video"].clone()
    video[:, 10] += 1.0
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
    assert "Tables 3-4: 12 of the 18 settings (κ, absence type, model), none at κ = 1" in quick  # Table 3 at κ = 1
    assert "Summation, MAPs/Attn., MAPs/Input, L_T=1, L_T=3, rho=0.25, rho=0.75" in quick
    assert "the learning-rate check on Scene-15" in quick
    assert "MOSI at κ = 0.7" not in quick and "w/o" not in quick and "L_T=0" not in quick  # what quick runs
    assert grid.left_out(grid.Chapter("paper")) == ""
    smoke = grid.left_out(grid.Chapter("smoke"))
    assert "Tables 3-4: 4 of the 18 settings" in smoke and "Summation" not in smoke


def test_claims_scope_at_a_profile_comes_from_its_grids(grid, monkeypatch):
    """No declared note types what a profile runs (issue 17): :meth:`Chapter.scoped` computes it from the grids. At
    quick, Table 1's claim is narrowed to the datasets quick trains and names those it leaves to paper; Table 3 at
    κ = 1 and the insertion claim say they are not run; claims whose comparison quick runs in full stay as declared;
    paper judges every claim as declared; and adding a dataset to quick's grid changes the note with it."""
    from mmbook.mgr.paper_claims import CLAIMS

    by_id = {claim.id: claim for claim in CLAIMS}
    assert not [c.id for c in CLAIMS if "quick" in c.note or "smoke" in c.note or "paper only" in c.note]
    paper = grid.Chapter("paper")
    assert all(paper.scoped(claim) == claim for claim in CLAIMS)
    for profile in ("smoke", "quick"):
        chapter = grid.Chapter(profile)
        trained = {e.dataset for e in chapter.experiments(chapter.main_settings() + chapter.absence_settings_list()
                                                          + chapter.ablation_settings_list())[0]}
        for claim in map(chapter.scoped, CLAIMS):
            assert set(claim.datasets or ()) <= trained, claim.id
            if claim != by_id[claim.id]:
                assert f"at {profile}" in claim.note, claim.id
    quick = grid.Chapter("quick")
    table1 = quick.scoped(by_id["mgr.table1"])
    assert table1.datasets == ("mosi", "avletters") and "Scene-15, AV-MNIST at paper only" in table1.note
    assert "not run at quick" in quick.scoped(by_id["mgr.table3_kappa1"]).note
    assert "not run at quick: Summation" in quick.scoped(by_id["mgr.insertion_token"]).note
    assert quick.scoped(by_id["mgr.table3_kappa07"]) == by_id["mgr.table3_kappa07"]  # every absence type at 0.7
    assert quick.scoped(by_id["mgr.table4"]) == by_id["mgr.table4"]
    assert quick.scoped(by_id["mgr.fig5_gap"]) == by_id["mgr.fig5_gap"]
    smoke = grid.Chapter("smoke").scoped(by_id["mgr.table4"])  # one absence type at smoke: judged on it
    assert len(smoke.conditions) == 1 and "1 of its 3 absence types" in smoke.note
    main_datasets = grid.Chapter.main_datasets
    monkeypatch.setattr(grid.Chapter, "main_datasets", property(
        lambda self: {**main_datasets.fget(self), "scene15": (0.7, 1)} if self.profile == "quick"
        else main_datasets.fget(self)))
    table1 = quick.scoped(by_id["mgr.table1"])
    assert table1.datasets == ("mosi", "avletters", "scene15") and "AVLetters, Scene-15; AV-MNIST at paper only" in table1.note


def test_quick_runs_every_variant_a_tested_ablation_claim_reads(grid):
    """At quick the ablations keep the variants of the claims they still test (components, refinement: L_T = 0
    against the default), so that cutting the grid cannot silently drop a claim's comparator."""
    variants = grid.Chapter("quick").ablation_variants()
    for name in ("Token", "MGR", "w/o mixed-context", "w/o L_div", "w/o h_u", "L_T=0", "L_T=2"):
        assert name in variants
    assert not {"Summation", "L_T=1", "rho=0.25"} & set(variants)
