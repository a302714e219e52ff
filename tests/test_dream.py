"""DREAM: the components on tiny inputs, the annotation-free property, the contribution scores against brute force."""
import itertools
import math
from pathlib import Path

import pytest
import torch

from mmlib.data.core import Batch
from mmlib.methods import METHODS, make_method
from mmlib.methods.dream import EnhancementLayer, ModuleAttention, blind_dataset, soft_mask_weights
from mmlib.shapley import subsets
from mmlib.train import TrainConfig, fit, predict

from chapters import paper_claims
from test_methods import toy


def small_dream(spec, **options):
    options = {"d_model": 16, "num_heads": 2, **options}
    return make_method("dream", spec, **options)


def incomplete_batch(n=12, seed=0):
    """A toy batch where some modalities are missing (zero-filled, as every protocol leaves them)."""
    dataset = toy(n=n, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    present = torch.rand(n, 3, generator=generator) > 0.4
    present[present.sum(1) == 0, 0] = True
    return dataset.batch().with_present(present)


class GuardedBatch:
    """A batch whose ``present`` (and ``frame_mask``) cannot be read: any read fails the test."""

    def __init__(self, batch):
        self.x, self.y = batch.x, batch.y

    def __len__(self):
        return len(self.y)

    @property
    def present(self):
        raise AssertionError("DREAM read batch.present")

    @property
    def frame_mask(self):
        raise AssertionError("DREAM read batch.frame_mask")


def test_dream_is_registered_with_the_papers_recipe():
    assert "dream" in METHODS
    recipe = METHODS["dream"].recipe
    assert (recipe.lr, recipe.batch_size, recipe.epochs) == (1e-4, 32, 30)  # appendix A.2, MOSI
    method = make_method("dream", toy(n=4).spec)
    assert method.d_model == 200 and len(method.enhance) == 2  # embedding 200, D = 2


def test_forward_shapes():
    dataset = toy(n=10)
    method = small_dream(dataset.spec).eval()
    output = method(dataset.batch())
    assert output.logits.shape == (10, 3)
    assert output.features.shape == (10, 16)
    assert method.subset_logits(dataset.batch()).shape == (10, 8, 3)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_outputs_do_not_depend_on_present_or_frame_masks(mode):
    batch = incomplete_batch()
    method = small_dream(toy(n=4).spec)
    method.train(mode == "train")
    shuffled = batch.present[torch.randperm(len(batch), generator=torch.Generator().manual_seed(1))]
    variants = [
        batch,
        Batch(batch.x, torch.ones_like(batch.present), batch.y, batch.frame_mask),  # all-true
        Batch(batch.x, shuffled, batch.y, batch.frame_mask),  # shuffled rows
        Batch(batch.x, ~batch.present, batch.y, {}),  # inverted, no frame masks
        GuardedBatch(batch),  # reading present or frame_mask raises
    ]
    outputs = []
    for variant in variants:
        torch.manual_seed(0)  # the same dropout draws in training mode
        outputs.append(method(variant))
    for output in outputs[1:]:
        assert torch.equal(output.logits, outputs[0].logits)
        assert output.losses.keys() == outputs[0].losses.keys()
        for name in output.losses:
            assert torch.equal(output.losses[name], outputs[0].losses[name])


def test_dream_source_never_mentions_the_batchs_present():
    import inspect

    import mmlib.methods.dream as dream_module

    assert "batch.present" not in inspect.getsource(dream_module.DREAM)
    assert "batch.present" not in inspect.getsource(dream_module.ContributionScores)


def test_soft_mask_reduces_to_softmax_when_pss_is_zero():
    weights = torch.softmax(torch.randn(5, 3), -1)  # the preliminary weights w: a distribution over modalities
    assert torch.allclose(soft_mask_weights(weights, torch.zeros(5, 3)), torch.softmax(weights, -1))
    pss = torch.tensor([[1.0, 0.0, 0.5]])
    expected = torch.softmax(weights[:1] * torch.tensor([[2.0, 1.0, 1.5]]), -1)
    assert torch.allclose(soft_mask_weights(weights[:1], pss), expected)
    with pytest.raises(ValueError, match="w >= 0"):  # on negative w the mask would favour zero-PSS modalities
        soft_mask_weights(-weights, pss)


def fused_weights_of(method, batch, pss):
    """The weights w' that DREAM's fusion actually applies (Eq. 11), read back from its output H = sum_i w'_i h_i
    and the modality-aware representations h_i (captured from the module), by least squares."""
    captured = {}
    handle = method.aware_norm.register_forward_hook(lambda module, args, out: captured.update(h=out.mean(2)))
    try:
        with torch.no_grad():
            _, features, _ = method.fuse(method.encode(batch), pss)
    finally:
        handle.remove()
    h = captured["h"]  # B x M x d
    return torch.linalg.lstsq(h.transpose(1, 2), features.unsqueeze(-1)).solution.squeeze(-1)  # B x M


@pytest.mark.parametrize("bias", [-3.0, 0.0, 3.0])
def test_soft_mask_down_weights_a_zero_pss_modality_whatever_the_sign_of_the_linear_output(bias):
    """Section 3.5: the influence of zero-PSS (missing or reconstructed) modalities is down-weighted by Eq. 10. With
    the linear layer's raw output as w (our code until issue 16) a negative output flipped the mask: a missing
    modality got the largest fusion weight. Here the linear layer gives every modality the same output (``bias``),
    so the mask alone decides: the zero-PSS modality must get the smallest weight in the fused representation."""
    dataset = toy(n=6)
    method = small_dream(dataset.spec).eval()
    with torch.no_grad():
        method.weight_head.weight.zero_()
        method.weight_head.bias.fill_(bias)
    pss = torch.tensor([[0.0, 1.0, 0.5]]).expand(6, -1)
    applied = fused_weights_of(method, dataset.batch(), pss)
    assert torch.allclose(applied.sum(1), torch.ones(6), atol=1e-4)
    assert (applied[:, 0] < applied[:, 1:].min(1).values - 0.05).all()
    assert (applied[:, 0] < 1 / 3).all()


def test_soft_mask_never_raises_a_zero_pss_modality_above_its_unmasked_weight():
    """For any trained-looking linear layer (random, large, signs mixed): a zero-PSS modality's w' is at most what
    it gets without the PSS (softmax of the same w), and the fusion applies w' (not some other weighting)."""
    dataset = toy(n=16)
    torch.manual_seed(0)
    method = small_dream(dataset.spec).eval()
    with torch.no_grad():
        method.weight_head.weight.normal_(0, 3.0)
        method.weight_head.bias.normal_(0, 3.0)
    batch = dataset.batch()
    pss = torch.tensor([[0.0, 1.0, 0.5], [0.0, 0.0, 1.0], [0.5, 0.0, 0.0], [1.0, 0.5, 0.5]]).repeat(4, 1)
    _, _, w = method.fuse(method.encode(batch), pss)
    assert (w >= 0).all() and torch.allclose(w.sum(1), torch.ones(16))
    applied = fused_weights_of(method, batch, pss)
    assert torch.allclose(applied, soft_mask_weights(w, pss), atol=1e-4)
    unmasked = torch.softmax(w, -1)
    assert (applied[pss == 0] <= unmasked[pss == 0] + 1e-5).all()


def test_enhancement_repeats_d_times_and_touches_only_zero_pss_modalities():
    dataset = toy(n=6)
    for depth in (0, 1, 2, 3):
        method = small_dream(dataset.spec, depth=depth).eval()
        calls = []
        for layer in method.enhance:
            layer.register_forward_hook(lambda *args: calls.append(1))
        tokens = method.encode(dataset.batch())
        original = torch.stack([tokens[name] for name in dataset.spec.modality_names], 1)
        pss = torch.tensor([[0.0, 0.5, 0.2]]).expand(6, -1)
        states = method.enhanced_states(tokens, pss)
        assert len(calls) == depth
        assert torch.equal(states[:, 1:], original[:, 1:])  # PSS > 0: left as they are
        assert torch.equal(states[:, 0], original[:, 0]) == (depth == 0)
    one, two = (small_dream(dataset.spec, depth=d).eval() for d in (1, 2))
    two.load_state_dict(one.state_dict(), strict=False)  # the same first layer
    assert not torch.allclose(one.enhanced_states(tokens, pss), two.enhanced_states(tokens, pss))


def test_without_dynamic_enhancement_every_modality_is_reconstructed():
    dataset = toy(n=6)
    method = small_dream(dataset.spec, dynamic_enhancement=False).eval()
    tokens = method.encode(dataset.batch())
    original = torch.stack([tokens[name] for name in dataset.spec.modality_names], 1)
    states = method.enhanced_states(tokens, torch.ones(6, 3))
    assert not torch.isclose(states, original).all(-1).all(-1).any()


def test_without_mmfm_there_is_no_distillation_and_no_mask():
    dataset = toy(n=8)
    full, ablated = small_dream(dataset.spec), small_dream(dataset.spec, masked_fusion=False)
    assert "distillation" in full.train()(dataset.batch()).losses
    assert ablated.train()(dataset.batch()).losses == {}
    assert not full.eval()(dataset.batch()).losses  # PAS needs the label: training only


def test_module_attention_matches_separate_attentions():
    torch.manual_seed(0)
    bank = ModuleAttention(num_modalities=2, modules_per_target=2, d_model=8, num_heads=2, dropout=0.0)
    states = torch.randn(3, 2, 4, 8)
    context = torch.tensor([[[True, True], [True, False]], [[False, True], [True, True]]])
    out = bank(states, context)
    for m, k in itertools.product(range(2), range(2)):
        attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        wq, wk, wv, wo = (bank.weight[i, m, k].T for i in range(4))
        bq, bk, bv, bo = (bank.bias[i, m, k] for i in range(4))
        with torch.no_grad():
            attention.in_proj_weight.copy_(torch.cat([wq, wk, wv]))
            attention.in_proj_bias.copy_(torch.cat([bq, bk, bv]))
            attention.out_proj.weight.copy_(wo)
            attention.out_proj.bias.copy_(bo)
        keys = states[:, context[m, k]].flatten(1, 2)
        expected, _ = attention(states[:, m], keys, keys)
        assert torch.allclose(out[:, m, k], expected, atol=1e-5), (m, k)


@pytest.mark.parametrize("num_modalities", [2, 3, 4])
def test_enhancement_contexts_are_eq_7_and_8(num_modalities):
    """The context of each enhancement module (Eq. 7-8): module (m, m) attends over Z_g, every modality; module
    (m, k), k != m, over Z_k = [x_m, x_k] exactly. Checked on the mask the layer builds, and on what the modules
    compute: changing modality j's tokens changes module (m, k)'s output if and only if j is in its context."""
    torch.manual_seed(0)
    layer = EnhancementLayer(num_modalities, d_model=8, num_heads=2, dropout=0.0)
    everything = set(range(num_modalities))
    for m, k in itertools.product(range(num_modalities), repeat=2):
        seen = {j for j in range(num_modalities) if layer.context[m, k, j]}
        assert seen == (everything if k == m else {m, k}), (m, k, seen)

    states = torch.randn(2, num_modalities, 3, 8)
    before = layer.attention(states, layer.context)
    for j in range(num_modalities):
        changed = states.clone()
        changed[:, j] += torch.randn_like(changed[:, j])
        after = layer.attention(changed, layer.context)
        for m, k in itertools.product(range(num_modalities), repeat=2):
            moved = not torch.allclose(after[:, m, k], before[:, m, k], atol=1e-6)
            assert moved == bool(layer.context[m, k, j]), (m, k, j)


def brute_force_scores(predict_fn, batch, num_modalities):
    """PSS and PAS of every sample by the textbook formulas, each coalition run on explicitly zero-filled inputs."""
    cache = {}

    def prediction(members):
        if members not in cache:
            x = {name: value * (i in members) for i, (name, value) in enumerate(batch.x.items())}
            cache[members] = predict_fn(x)
        return cache[members]

    pss = torch.zeros(len(batch), num_modalities)
    pas = torch.zeros(len(batch), num_modalities)
    correct = lambda members: (prediction(members) == batch.y).float()  # noqa: E731
    for i in range(num_modalities):
        others = [p for p in range(num_modalities) if p != i]
        for size in range(num_modalities):
            weight = math.factorial(size) * math.factorial(num_modalities - size - 1) / math.factorial(num_modalities)
            for combo in itertools.combinations(others, size):
                before, after = frozenset(combo), frozenset(combo) | {i}
                pss[:, i] += weight * (prediction(after) != prediction(before)).float()
                pas[:, i] += weight * (len(after) * correct(after) - len(before) * correct(before))
    return pss, pas


@pytest.mark.parametrize("backbone", ["dropout", "transformer"])
def test_contribution_scores_equal_brute_force_on_zero_filled_inputs(backbone):
    dataset = toy(n=40, seed=2)
    method = small_dream(dataset.spec, backbone=backbone)
    fit(method.backbone, dataset, None, TrainConfig(epochs=3, progress=False))  # a backbone that is not constant
    method.eval()
    batch = incomplete_batch(n=40, seed=3)
    pss, pas, _ = method.scores(batch)

    def predict_fn(x):
        blind = Batch(x, torch.ones(len(batch), 3, dtype=torch.bool), batch.y, {})
        return method.backbone(blind).logits.argmax(-1)

    expected_pss, expected_pas = brute_force_scores(predict_fn, batch, 3)
    assert torch.allclose(pss, expected_pss, atol=1e-6)
    assert torch.allclose(pas, expected_pas, atol=1e-5)
    # a modality absent from the data (zero-filled) never changes a prediction: PSS = 0 exactly (section 3.4)
    assert (pss[~batch.present] == 0).all()
    assert pss[batch.present].gt(0).any()
    # efficiency of PAS: the values sum to V(full) - V(empty) = M if the full input is predicted right, else 0
    full_correct = (predict_fn(batch.x) == batch.y).float()
    assert torch.allclose(pas.sum(1), 3 * full_correct, atol=1e-5)


def test_presence_coalitions_pass_the_coalition_not_the_datas_present():
    dataset = toy(n=30, seed=4)
    method = small_dream(dataset.spec, coalitions="presence").eval()
    batch = incomplete_batch(n=30, seed=5)
    table = method.scores.coalition_logits(batch)
    members = subsets(3)
    for k in range(8):
        flags = members[k].expand(len(batch), -1)
        direct = method.backbone(Batch(batch.x, flags, batch.y, {})).logits
        assert torch.allclose(table[:, k], direct, atol=1e-5)
    with pytest.raises(ValueError, match="coalitions"):
        small_dream(dataset.spec, coalitions="flags")


def test_prepare_pretrains_then_freezes_the_backbone():
    train, val = toy(n=200, seed=0), toy(n=60, seed=1)
    method = small_dream(train.spec)
    before = {k: v.clone() for k, v in method.backbone.state_dict().items()}
    fit(method, train, val, TrainConfig(epochs=4, lr=3e-3, batch_size=32, progress=False))
    after = method.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # pre-trained
    assert not any(p.requires_grad for p in method.backbone.parameters())  # frozen
    assert not method.backbone.training
    accuracy = (predict(method, toy(n=200, seed=7)).argmax(1) == toy(n=200, seed=7).y).float().mean().item()
    assert accuracy > 0.6  # chance is about 1/3
    assert method.trainable_parameters() < sum(p.numel() for p in method.parameters())


def test_under_trained_backbone_gets_one_epoch(monkeypatch):
    import mmlib.methods.dream as dream_module

    configs = []
    real_fit = dream_module.fit
    monkeypatch.setattr(dream_module, "fit", lambda *args: configs.append(args[3]) or real_fit(*args))
    train = toy(n=64)
    method = small_dream(train.spec, backbone_epochs=1)
    method.prepare(train, None, TrainConfig(epochs=5, progress=False))
    assert configs[0].epochs == 1 and configs[0].patience is None


def test_blind_dataset_keeps_inputs_and_forgets_annotations():
    dataset = toy(n=10)
    masked = dataset.with_missing(torch.tensor([[True, False, True]] * 10))
    blind = blind_dataset(masked)
    assert blind.present.all() and all(mask.all() for mask in blind.frame_mask.values())
    for name in dataset.x:
        assert torch.equal(blind.x[name], masked.x[name])


def test_table2s_paper_effect_is_the_log_ratio_against_the_papers_fastest_baseline():
    import numpy as np
    import pandas as pd

    module = paper_claims("dream")
    root = Path(__file__).resolve().parent.parent
    times = pd.read_csv(root / "book" / "paper_results" / "dream_table2.csv", comment="#")
    times = times[(times.dataset == "MOSI") & (times.phase == "train")].set_index("model").time
    fastest = times[list(module.PAPER_TABLE2)].min()
    train = next(claim for claim in module.CLAIMS if claim.id == "dream.table2_train")
    assert train.the_paper_effect() == pytest.approx(np.log(fastest / times["DREAM"]))
