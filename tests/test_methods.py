"""The baselines: the common face, shapes, training beats chance, the batched subset pass is exact."""
import numpy as np
import pytest
import torch

from mmlib.data.core import make_dataset, spec_for_arrays
from mmlib.methods import METHODS, MethodOutput, make_method
from mmlib.methods.base import MultimodalMethod
from mmlib.shapley import subsets
from mmlib.train import TrainConfig, fit, predict

BASELINES = ["concat", "dropout", "transformer", "simbamm"]


def toy(n=240, seed=0, separable=True):
    """A vector, a sequence and an image modality; the class is written weakly into each."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    signal = np.eye(3)[y] * (1.5 if separable else 0.0)
    arrays = {
        "text": np.concatenate([signal, rng.normal(size=(n, 5))], 1) + rng.normal(size=(n, 8)),
        "audio": np.repeat(np.concatenate([signal, rng.normal(size=(n, 1))], 1)[:, None], 10, 1)
        + rng.normal(size=(n, 10, 4)),
        "image": rng.normal(size=(n, 1, 8, 8)) + signal[:, :, None, None].sum(1, keepdims=True) * y[:, None, None, None] / 2,
    }
    spec = spec_for_arrays("toy", arrays, 3)
    return make_dataset(spec, arrays, y)


def test_every_baseline_is_registered():
    assert set(BASELINES) <= set(METHODS)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        make_method("nope", toy().spec)


@pytest.mark.parametrize("name", BASELINES)
def test_forward_shapes_and_encoders_return_tokens(name):
    dataset = toy(n=16)
    method = make_method(name, dataset.spec)
    batch = dataset.batch()
    output = method(batch)
    assert isinstance(output, MethodOutput)
    assert output.logits.shape == (16, 3)
    assert output.features.shape[0] == 16
    for modality, tokens in method.encode(batch).items():
        assert tokens.dim() == 3 and tokens.shape[0] == 16 and tokens.shape[2] == method.d_model, modality


@pytest.mark.parametrize("name", BASELINES)
def test_training_beats_chance(name):
    train, test = toy(n=300, seed=0), toy(n=200, seed=1)
    method = make_method(name, train.spec)
    fit(method, train, None, TrainConfig(epochs=12, lr=3e-3, patience=None, progress=False))
    accuracy = (predict(method, test).argmax(1) == test.y).float().mean().item()
    assert accuracy > 0.6  # chance is about 1/3


@pytest.mark.parametrize("name", BASELINES)
def test_subset_logits_equal_forward_on_each_subset(name):
    dataset = toy(n=12)
    method = make_method(name, dataset.spec).eval()
    batch = dataset.batch()
    batch = batch.with_present(torch.rand(12, 3, generator=torch.Generator().manual_seed(0)) > 0.2)
    table = method.subset_logits(batch)
    members = subsets(3)
    assert table.shape == (12, 8, 3)
    for k in range(8):
        direct = method(batch.with_present(members[k].expand(12, -1))).logits
        assert torch.allclose(table[:, k], direct, atol=1e-5), k
    generic = MultimodalMethod.subset_logits(method, batch)
    assert torch.allclose(table, generic, atol=1e-5)


def test_absent_modalities_do_not_change_the_baselines_outputs():
    dataset = toy(n=10)
    batch = dataset.batch().with_present(torch.tensor([[True, False, True]] * 10))
    noisy = dataset.batch()
    noisy.x["audio"] = torch.randn_like(noisy.x["audio"]) * 100
    noisy = noisy.with_present(batch.present)
    for name in BASELINES:
        method = make_method(name, dataset.spec).eval()
        assert torch.allclose(method(batch).logits, method(noisy).logits, atol=1e-5)


def test_simbamm_reads_the_present_modalities_alone_not_a_stand_in_for_the_absent():
    """SimBaMM masks an absent modality out of attention: its output equals the fusion of the present modalities'
    tokens alone, as if the absent one had never been in the sequence (the transformer baseline instead reads a
    learned missing embedding there)."""
    torch.manual_seed(0)
    dataset = toy(n=6)
    method = make_method("simbamm", dataset.spec, d_model=16).eval()
    batch = dataset.batch().with_present(torch.tensor([[True, False, True]] * 6))
    tokens = method.encode(batch)
    alone = torch.cat([method.project[n](tokens[n]) + method.position[n] for n in ("text", "image")], 1)
    expected = method.head(method.fusion(alone)[:, 0])
    assert torch.allclose(method(batch).logits, expected, atol=1e-5)
    assert METHODS["simbamm"].train_dropout.p == 0.5  # trained with modality dropout
    # a span of frames all dropped gives a zero token, masked out as well: the output is the fusion of the others
    frames = dataset.batch()
    frames.frame_mask["audio"][:, :5] = False  # the first half of the 10 audio frames: the first tokens' spans
    tokens = method.encode(frames)
    seen = tokens["audio"].abs().amax(-1) > 0
    assert not seen[:, 0].any() and seen[:, -1].all()
    sequence = torch.cat([method.project[n](tokens[n]) + method.position[n] for n in ("text", "audio", "image")], 1)
    keep = torch.cat([torch.ones_like(tokens["text"][..., 0], dtype=torch.bool), seen,
                      torch.ones_like(tokens["image"][..., 0], dtype=torch.bool)], 1)
    alone = method.head(method.fusion(sequence[:1, keep[0]])[:, 0])
    assert torch.allclose(method(frames).logits[:1], alone, atol=1e-5)


def test_dropout_baseline_trains_with_modality_dropout():
    assert METHODS["dropout"].train_dropout is not None and METHODS["dropout"].train_dropout.p == 0.5
    assert METHODS["concat"].train_dropout is None


def test_early_stopping_restores_the_best_epoch():
    train, val = toy(n=120, seed=2), toy(n=60, seed=3)
    method = make_method("concat", train.spec)
    history = fit(method, train, val, TrainConfig(epochs=30, patience=2, progress=False))
    assert len(history) <= 30
    best = max(record["val_score"] for record in history)
    accuracy = (predict(method, val).argmax(1) == val.y).float().mean().item()
    assert accuracy == pytest.approx(best)
    assert all("loss_task" in record for record in history)


def test_fit_hooks_see_every_step_and_epoch():
    train = toy(n=100)
    steps, epochs = [], []
    history = fit(make_method("concat", train.spec), train, None,
                  TrainConfig(epochs=3, batch_size=32, progress=False),
                  on_step=lambda epoch, step, terms: steps.append((epoch, step, set(terms))),
                  on_epoch=lambda epoch, method: epochs.append((epoch, method.training)))
    assert [(e, s) for e, s, _ in steps] == [(e, s) for e in range(3) for s in range(4)]  # 100 / 32 -> 4 batches
    assert all(terms == {"task"} for _, _, terms in steps)
    assert epochs == [(0, True), (1, True), (2, True)] and len(history) == 3


def test_linear_probe_reads_only_the_frozen_encoder_and_samples_with_the_modality():
    from mmlib.evaluate import linear_probe

    train, test = toy(n=300, seed=0), toy(n=200, seed=1)
    method = make_method("concat", train.spec)
    fit(method, train, None, TrainConfig(epochs=8, lr=3e-3, progress=False))
    before = {k: v.clone() for k, v in method.state_dict().items()}
    accuracy = linear_probe(method, train, {"test": test}, "text")["test"]
    assert accuracy > 0.6  # chance is about 1/3
    assert all(torch.equal(before[k], v) for k, v in method.state_dict().items())
    present = torch.ones(len(test), 3, dtype=torch.bool)
    present[:150, 0] = False  # text kept on 50 samples: the probe scores those alone
    noisy = test.with_missing(present)
    assert linear_probe(method, train, {"test": noisy}, "text")["test"] == pytest.approx(
        linear_probe(method, train, {"test": test.subset(torch.arange(150, 200))}, "text")["test"])


def test_bad_training_options_are_clear_errors():
    with pytest.raises(ValueError, match="unknown training options: nope"):
        TrainConfig().updated(nope=1)
    with pytest.raises(ValueError, match="optimizer"):
        fit(make_method("concat", toy(n=8).spec), toy(n=8), None, TrainConfig(epochs=1, optimizer="sgdx",
                                                                              progress=False))


@pytest.mark.parametrize("name,optimizer", [("transformer", "adam"), ("mmp", "adamw")])
def test_the_training_optimiser_gives_the_weights_of_torchs_default_to_the_bit(name, optimizer):
    """fit's optimiser runs one multi-tensor update (foreach) for speed: it must not change a single weight against
    torch's default update, so that the book's numbers stay what they were."""
    from mmlib.train import TrainConfig, _optimizer, training_step

    dataset = toy(n=64)
    config = TrainConfig(lr=1e-2, weight_decay=0.01, optimizer=optimizer)
    states = []
    for build in (lambda params: _optimizer(params, config),
                  lambda params: getattr(torch.optim, "AdamW" if optimizer == "adamw" else "Adam")(
                      params, lr=config.lr, weight_decay=config.weight_decay)):
        torch.manual_seed(0)
        method = make_method(name, dataset.spec).train()
        initial = {key: value.clone() for key, value in method.state_dict().items()}
        params = [p for p in method.parameters() if p.requires_grad]
        step = build(params)
        generator = torch.Generator().manual_seed(0)
        for batch in dataset.batches(16, shuffle=True, generator=generator):
            training_step(method, batch, step, params, config, generator)
        states.append(method.state_dict())
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[0])
    assert any(not torch.equal(states[0][key], initial[key]) for key in states[0])  # it did train
