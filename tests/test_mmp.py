"""MMP: the masking, the projection's shapes and inputs, the alignment loss, training (the command line is
tested for every method in test_experiment.py)."""

import pytest
import torch

from mmlib.data.core import make_dataset
from mmlib.methods import make_method
from mmlib.methods.mmp import MMP, ProjectionHead
from mmlib.missing import ModalityDropout
from mmlib.train import TrainConfig, fit, predict

from chapters import paper_claims
from toydata import weak_signal


def toy(n=240, seed=0):
    """Three vector modalities, each carrying the class weakly."""
    spec, arrays, y, rng = weak_signal(n, seed)
    return make_dataset(spec, arrays, y)


def test_masking_keeps_one_modality_and_drops_at_p_one_half():
    present = torch.ones(20000, 3, dtype=torch.bool)
    kept = MMP.masking.sample(present, torch.Generator().manual_seed(0))
    assert (kept.sum(1) >= 1).all()
    dropped = 1 - kept.float().mean().item()
    # p = 0.5 per modality, conditioned on keeping one: (p - p^M) / (1 - p^M) = 3/7 for M = 3
    assert MMP.masking.p == 0.5
    assert dropped == pytest.approx(ModalityDropout.expected_drop_rate(0.5, 3), abs=0.01)
    # each pattern with at least one modality is equally likely (p = 0.5 makes all 2^M - 1 of them uniform)
    patterns = torch.unique(kept.long() @ torch.tensor([1, 2, 4]), return_counts=True)[1].float() / len(kept)
    assert len(patterns) == 7 and torch.allclose(patterns, torch.full((7,), 1 / 7), atol=0.01)


@pytest.mark.parametrize("name", ["mmp", "mmp_lp", "mmp_lp_align"])
def test_projected_tokens_have_the_missing_modality_shape(name):
    torch.manual_seed(0)
    data = toy(16)
    method = make_method(name, data.spec, d_model=32).eval()
    batch = data.batch(torch.arange(16))
    tokens = method.encode(batch)
    present = torch.ones(16, 3, dtype=torch.bool)
    present[:8, 1] = False
    projected = method.project(tokens, present, ["audio", "video"])
    for modality, value in projected.items():
        assert value.shape == tokens[modality].shape == (16, 4, 32)


def test_projection_head_aligns_token_counts():
    head = ProjectionHead(source_tokens=6, target_tokens=3, d_model=8, linear=False)
    sources = [torch.randn(5, 2, 8), torch.randn(5, 4, 8)]
    assert head(sources, torch.ones(5, 2, dtype=torch.bool)).shape == (5, 3, 8)


def test_projection_reads_only_available_modalities():
    torch.manual_seed(0)
    data = toy(8)
    method = make_method("mmp", data.spec, d_model=32).eval()
    tokens = method.encode(data.batch(torch.arange(8)))
    present = torch.tensor([[True, False, False]] * 8)
    before = method.project(tokens, present, ["audio"])["audio"]
    changed = {**tokens, "video": torch.randn_like(tokens["video"]), "audio": torch.randn_like(tokens["audio"])}
    after = method.project(changed, present, ["audio"])["audio"]
    assert torch.allclose(before, after, atol=1e-6)
    changed_available = {**tokens, "text": torch.randn_like(tokens["text"])}
    assert not torch.allclose(before, method.project(changed_available, present, ["audio"])["audio"])


def test_alignment_loss_covers_masked_modalities_only():
    torch.manual_seed(0)
    data = toy(8)
    method = make_method("mmp", data.spec, d_model=16)
    tokens = {n: torch.randn(8, 4, 16) for n in data.spec.modality_names}
    projected = {n: torch.randn(8, 4, 16) for n in ("audio", "video")}
    masked = torch.zeros(8, 3, dtype=torch.bool)
    masked[:4, 1] = True  # audio masked in the first four samples; video's projection unused by the loss
    loss = method.alignment_loss(tokens, projected, masked)
    expected = torch.nn.functional.smooth_l1_loss(projected["audio"][:4], tokens["audio"][:4])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    moved = {"audio": projected["audio"].clone(), "video": projected["video"] + 5}
    moved["audio"][4:] += 5  # rows where audio is not masked
    assert method.alignment_loss(tokens, moved, masked).item() == pytest.approx(loss.item(), rel=1e-6)
    assert method.alignment_loss(tokens, projected, torch.zeros_like(masked)).item() == 0.0


def test_training_forward_masks_and_names_the_alignment_loss(monkeypatch):
    """Section III-A's masking happens inside MMP's training forward, not in the training loop: the step's batch
    reaches forward unmasked; the fusion reads only the modalities the mask kept (the training logits are the
    evaluation-mode model's on the kept modalities alone); the alignment loss is Eq. 6 over exactly the masked
    pairs; evaluation masks nothing. Dropout gets its masking from the training loop, at MMP's rate (Table I's
    two trainings mask alike); MMP-LP has no alignment loss."""
    from mmlib.train import training_step

    drawn = []
    sample = ModalityDropout.sample
    monkeypatch.setattr(ModalityDropout, "sample", lambda self, *args: drawn.append(sample(self, *args)) or drawn[-1])
    torch.manual_seed(0)
    data = toy(512)
    batch = data.batch(torch.arange(512))
    config = TrainConfig(epochs=1, batch_size=512, lr=1e-3, progress=False)
    rate = ModalityDropout.expected_drop_rate(MMP.masking.p, 3)

    def step(method):
        """The batch as a real training step hands it to forward."""
        seen = []
        params = [p for p in method.parameters() if p.requires_grad]
        training_step(method.train(), batch, torch.optim.AdamW(params), params, config,
                      inspect=lambda stepped, output: seen.append(stepped.present))
        return seen[0]

    method = make_method("mmp", data.spec, d_model=16, dropout=0.0)
    assert torch.equal(step(method), batch.present) and len(drawn) == 1  # drawn once, in forward
    output = method.train()(batch)
    kept = drawn[-1]
    assert (kept <= batch.present).all() and kept.any(1).all()
    assert 1 - kept.float().mean().item() == pytest.approx(rate, abs=0.04)
    method.eval()
    with torch.no_grad():
        assert torch.allclose(output.logits, method(batch.with_present(kept)).logits, atol=1e-5)
        tokens = method.encode(batch)
        _, projected = method.complete(tokens, kept)
        expected = method.alignment_loss(tokens, projected, batch.present & ~kept)
        assert expected > 0 and output.losses["alignment"].item() == pytest.approx(expected.item(), rel=1e-5)
        count = len(drawn)
        assert torch.allclose(method(batch).logits, method.fuse(tokens, batch.present)[0], atol=1e-6)
        assert len(drawn) == count  # no mask drawn in evaluation
    dropout = step(make_method("transformer_dropout", data.spec, d_model=16))
    assert (dropout <= batch.present).all() and dropout.any(1).all()
    assert 1 - dropout.float().mean().item() == pytest.approx(rate, abs=0.04)
    assert make_method("mmp_lp", data.spec, d_model=16).train()(batch).losses == {}


@pytest.mark.parametrize("name", ["mmp", "transformer_dropout"])
def test_training_beats_chance(name):
    train, test = toy(240, 0), toy(120, 1)
    method = make_method(name, train.spec, d_model=32)
    fit(method, train, None, TrainConfig(epochs=8, batch_size=32, lr=3e-3, progress=False))
    accuracy = (predict(method, test).argmax(1) == test.y).float().mean().item()
    assert accuracy > 0.6  # chance is 1/3
    one_modality = test.with_missing(torch.tensor([[False, True, False]] * len(test)))
    assert (predict(method, one_modality).argmax(1) == test.y).float().mean().item() > 0.45


def test_subset_logits_equal_forward_on_each_subset():
    torch.manual_seed(0)
    data = toy(12)
    method = make_method("mmp", data.spec, d_model=16).eval()
    batch = data.batch(torch.arange(12))
    table = method.subset_logits(batch)
    for k in (1, 2, 5, 7):
        members = torch.tensor([(k >> i) & 1 == 1 for i in range(3)])
        direct = method(batch.with_present(members.expand(12, -1).clone())).logits
        assert torch.allclose(table[:, k], direct, atol=1e-5)


def test_table4s_paper_effect_is_read_from_the_papers_table():
    module = paper_claims("mmp")
    # the paper's own numbers, read from book/paper_results: Table IV's 5.8 and 6.72 points over MulT
    by_id = {claim.id: claim for claim in module.CLAIMS}
    assert by_id["mmp.table4_no_text_accuracy"].the_paper_effect() == pytest.approx((5.8 + 6.72) / 2 / 100)


def test_a_claim_against_several_comparators_needs_each_of_them():
    import pandas as pd

    from mmlib.claims import judge

    module = paper_claims("mmp")
    claim = {c.id: c for c in module.CLAIMS}["mmp.table3_vs_prompts"]
    rows = [("cub", method, seed, condition, condition, "accuracy", value + 0.01 * seed)
            for seed in range(5) for condition in module.GRID_AHEAD
            for method, value in (("mmp", 0.80), ("prompts_input", 0.70), ("prompts_attention", 0.85))]
    table = pd.DataFrame(rows, columns=["dataset", "method", "seed", "protocol", "condition", "metric", "value"])
    assert judge(claim, table).verdict.verdict == "contradicted"  # behind attention-level prompts
    assert judge(claim, table[table.method != "prompts_attention"]).verdict.verdict == "not tested"
