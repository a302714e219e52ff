"""MMIN (MCE's Table 5 comparator): the cascade residual autoencoder, the missing conditions it trains on, the two
imagination losses by hand, what the imagined representation may touch, the teacher, and training on MOSI."""

import numpy as np
import pytest
import torch
from torch import nn

from mmlib.data.core import Batch, make_dataset, spec_for_arrays
from mmlib.methods import METHODS, make_method
from mmlib.methods.mmin import MCE_CODE, CascadeResidualAE, forward_target, training_conditions
from mmlib.shapley import subsets
from mmlib.train import TrainConfig, fit, predict


def toy(n=120, seed=0):
    """Three vector modalities, the class written into each."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    arrays = {name: np.eye(3)[y] * 2.0 + rng.normal(size=(n, 3)) for name in ("a", "v", "l")}
    return make_dataset(spec_for_arrays("toy", arrays, 3), arrays, y)


def small(spec, **options):
    torch.manual_seed(0)
    return make_method("mmin", spec, d_model=8, ae_layers=(16, 8, 4), num_blocks=2, classifier_layers=(8,),
                       **options)


def zero_(module: nn.Module) -> None:
    for parameter in module.parameters():
        nn.init.zeros_(parameter)


def test_registered_with_the_authors_recipe_and_sizes():
    assert "mmin" in METHODS
    recipe = METHODS["mmin"].recipe  # scripts/CAP_mmin.sh
    assert (recipe.lr, recipe.weight_decay, recipe.batch_size, recipe.epochs) == (2e-4, 1e-5, 128, 60)
    method = make_method("mmin", toy(n=4).spec, d_model=8)
    assert method.forward_weight == 4.0 and method.cycle_weight == 2.0
    assert len(method.imagination.encoders) == 5 and method.cycle is not method.imagination
    assert [m.out_features for m in method.imagination.encoders[0] if isinstance(m, nn.Linear)] == [256, 128, 64]


def test_shapes_and_losses_by_mode():
    dataset = toy(n=10)
    method = small(dataset.spec).train()
    output = method(dataset.batch())
    assert output.logits.shape == (10, 3)
    assert output.features.shape == (10, 2 * 4)  # R = [c_1, c_2], the blocks' latent vectors
    assert set(output.losses) == {"forward", "cycle"}
    assert method.eval()(dataset.batch()).losses == {}
    no_teacher = small(dataset.spec, **MCE_CODE).train()
    assert no_teacher.teacher is None and set(no_teacher(dataset.batch()).losses) == {"cycle"}


def test_cascade_residual_autoencoder_by_hand():
    torch.manual_seed(0)
    cra = CascadeResidualAE(6, (5, 3), num_blocks=2)
    x = torch.randn(4, 6)
    x1 = x
    c1 = cra.encoders[0](x1)
    o1 = cra.decoders[0](c1)
    x2 = x1 + o1  # each block reads the input plus the earlier blocks' outputs
    c2 = cra.encoders[1](x2)
    o2 = cra.decoders[1](c2)
    imagined, latents = cra(x)
    assert torch.allclose(imagined, cra.transition(x2 + o2))
    assert torch.allclose(latents, torch.cat([c1, c2], -1))
    # the encoder ends on a linear layer (the code drops the last activation): latents can be negative
    assert isinstance(cra.encoders[0][-1], nn.Linear) and isinstance(cra.decoders[0][-1], nn.Linear)


def test_training_conditions_are_mmins_six_for_complete_samples():
    present = torch.ones(6000, 3, dtype=torch.bool)
    kept = training_conditions(present, torch.Generator().manual_seed(0))
    codes = (kept.long() * torch.tensor([1, 2, 4])).sum(1)
    counts = torch.bincount(codes, minlength=8)
    assert counts[0] == 0 and counts[7] == 0  # never nothing, never the full set
    assert (counts[1:7] - 1000).abs().max() < 120  # uniform over the six


def test_training_conditions_stay_within_the_available_modalities():
    present = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0]], dtype=torch.bool).repeat(500, 1)
    kept = training_conditions(present, torch.Generator().manual_seed(1))
    assert not (kept & ~present).any()
    assert (kept.sum(1) == 1).all()  # two available: one kept; one available: that one
    assert (kept[1::3] == present[1::3]).all()
    assert kept[0::3, 0].float().mean().item() == pytest.approx(0.5, abs=0.06)


def test_forward_target_is_the_teachers_representation_of_the_dropped_modalities_only():
    teacher = torch.arange(1.0, 1 + 2 * 3 * 2).view(2, 3, 2)
    present = torch.tensor([[1, 1, 1], [1, 0, 1]], dtype=torch.bool)
    kept = torch.tensor([[1, 0, 0], [0, 0, 1]], dtype=torch.bool)
    target, defined = forward_target(teacher, kept, present)
    assert torch.equal(target[0, 0], torch.zeros(2)) and torch.equal(target[0, 1:], teacher[0, 1:])
    assert torch.equal(target[1, 0], teacher[1, 0]) and torch.equal(target[1, 2], torch.zeros(2))
    assert defined.tolist() == [[True, True, True], [True, False, True]]  # absent from the data: no target


def test_the_two_imagination_losses_by_hand():
    """With the backward CRA zeroed, h'' = 0 and L_cycle = 2 mean(h^2) over every position (zeros at the missing
    modalities included); with the forward CRA's transition zeroed, h' = 0 and L_forward = 4 times the mean of the
    squared target over the positions of the modalities the data has."""
    dataset = toy(n=6)
    method = small(dataset.spec, dropout=0.0).train()
    zero_(method.cycle)
    zero_(method.imagination.transition)
    present = torch.tensor([[1, 1, 1]] * 4 + [[1, 0, 1]] * 2, dtype=torch.bool)
    kept = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1]], dtype=torch.bool)
    method.condition = lambda p: kept
    batch = dataset.batch().with_present(present)
    output = method(batch)
    h = torch.stack([method.encoders[n](batch.x[n]).mean(1) for n in "avl"], 1) * kept.unsqueeze(-1)
    assert output.losses["cycle"].item() == pytest.approx(2.0 * h.square().mean().item(), rel=1e-5)
    teacher = torch.stack([method.teacher.encoders[n](batch.x[n]).mean(1) for n in "avl"], 1)
    dropped = (present & ~kept).unsqueeze(-1)
    expected = 4.0 * (teacher * dropped).square().sum() / (present.sum() * 8)
    assert output.losses["forward"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_cycle_target_is_detached():
    """L_cycle = MSE(h'', h.detach()) (``feat_fusion_miss.detach()``): with h' cut off from h (the forward CRA's
    transition zeroed), L_cycle sends no gradient to the encoders."""
    dataset = toy(n=6)
    method = small(dataset.spec, dropout=0.0).train()
    zero_(method.imagination.transition)
    method(dataset.batch()).losses["cycle"].backward()
    grads = [p.grad for p in method.encoders.parameters()]
    assert all(g is None or not g.any() for g in grads)
    assert any(p.grad is not None and p.grad.any() for p in method.cycle.parameters())


def test_the_mce_authors_run_trains_no_teacher(monkeypatch):
    import mmlib.methods.mmin as mmin_module

    monkeypatch.setattr(mmin_module, "fit", lambda *args: pytest.fail("a teacher was trained"))
    dataset = toy(n=32)
    method = small(dataset.spec, **MCE_CODE)
    method.prepare(dataset, None, TrainConfig(epochs=1, progress=False))
    present = dataset.present.clone()
    present[::2, 0] = False
    assert torch.equal(method.condition(present), present)  # the data's own pattern, no other condition


def test_the_classifier_never_reads_a_missing_modality():
    """The imagination targets come from the dropped modalities' real inputs, but the prediction and the cycle do
    not: a dropped modality's input moves L_forward only; a modality absent from the data moves nothing."""
    dataset = toy(n=8)
    method = small(dataset.spec, dropout=0.0, classifier_dropout=0.0).train()
    present = torch.tensor([[1, 1, 1]] * 4 + [[1, 1, 0]] * 4, dtype=torch.bool)
    kept = torch.tensor([[1, 0, 1]] * 4 + [[1, 0, 0]] * 4, dtype=torch.bool)
    method.condition = lambda p: kept
    batch = dataset.batch().with_present(present)
    base = method(batch)
    dropped = Batch({**batch.x, "v": batch.x["v"] + 10 * torch.randn_like(batch.x["v"])}, present, batch.y)
    moved = method(dropped)
    assert torch.allclose(base.logits, moved.logits) and torch.allclose(base.losses["cycle"], moved.losses["cycle"])
    assert not torch.allclose(base.losses["forward"], moved.losses["forward"])
    noisy_l = batch.x["l"].clone()
    noisy_l[4:] = 10 * torch.randn_like(noisy_l[4:])  # l is absent from samples 4-7
    absent = method(Batch({**batch.x, "l": noisy_l}, present, batch.y))
    assert all(torch.allclose(base.losses[k], absent.losses[k]) for k in base.losses)
    assert torch.allclose(base.logits[4:], absent.logits[4:])
    method.eval()  # at test the data's own presence is the condition
    test = method(Batch({**batch.x, "l": noisy_l}, present, batch.y)).logits
    assert torch.allclose(test[4:], method(batch).logits[4:])


def test_subset_logits_equal_forward_on_each_subset():
    dataset = toy(n=6)
    method = small(dataset.spec).eval()
    batch = dataset.batch()
    table = method.subset_logits(batch)
    for k, members in enumerate(subsets(3)):
        assert torch.allclose(table[:, k], method(batch.with_present(members.expand(6, -1))).logits, atol=1e-5)


def test_prepare_pretrains_the_teacher_freezes_it_and_copies_its_encoders(monkeypatch, tmp_path):
    import mmlib.methods.mmin as mmin_module

    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    train, val = toy(n=96, seed=0), toy(n=48, seed=1)
    method = small(train.spec)
    before = {k: v.clone() for k, v in method.teacher.state_dict().items()}
    history = fit(method, train, val, TrainConfig(epochs=3, batch_size=32, lr=3e-3, progress=False))
    assert any(not torch.equal(before[k], v) for k, v in method.teacher.state_dict().items())  # pre-trained
    assert not any(p.requires_grad for p in method.teacher.parameters()) and not method.teacher.training
    assert {"loss_forward", "loss_cycle", "loss_task"} <= set(history[0])
    # the student started from the teacher's encoders (MMIN's post_process): prepare again and compare
    monkeypatch.setattr(mmin_module, "fit", lambda *args: pytest.fail("the kept teacher was trained again"))
    variant = small(train.spec, cycle_weight=0.5)  # another variant shares the kept teacher
    variant.prepare(train, val, TrainConfig(epochs=3, batch_size=32, lr=3e-3, progress=False))
    teacher = variant.teacher.encoders.state_dict()
    assert all(torch.equal(value, teacher[k]) for k, value in variant.encoders.state_dict().items())
    no_init = small(train.spec, init_from_teacher=False)
    own = {k: v.clone() for k, v in no_init.encoders.state_dict().items()}
    no_init.prepare(train, val, TrainConfig(epochs=3, batch_size=32, lr=3e-3, progress=False))
    assert all(torch.equal(value, own[k]) for k, value in no_init.encoders.state_dict().items())


def test_bad_conditions_are_a_clear_error():
    with pytest.raises(ValueError, match="conditions"):
        make_method("mmin", toy(n=4).spec, conditions="six")
    with pytest.raises(ValueError, match="forward_weight=0"):
        make_method("mmin", toy(n=4).spec, conditions="data")  # nothing dropped: no forward target


def test_mmin_beats_the_majority_class_on_mosi_at_smoke():
    """Through the experiment API, under MCE's ordering a, as the MCE chapter runs it."""
    from mmlib.experiment import Experiment, prepared_splits, run

    experiment = Experiment("mosi", "mmin", train_protocol="rates:audio=0.2,text=0.5,video=0.8", profile="smoke",
                            method_options={"d_model": 32})
    table = run(experiment, use_cache=False)
    accuracy = table[(table.metric == "accuracy") & (table.condition == "text")].value.mean()
    test_y = prepared_splits(experiment, 0).test.y
    majority = torch.bincount(test_y).max().item() / len(test_y)
    assert accuracy > majority + 0.05
