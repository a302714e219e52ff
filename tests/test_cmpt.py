"""CMPT: rank-1 LoRA and what learns, the gate (Eq. 5), the alignment loss (Eq. 4), pre-training and its cache,
the M-modality extension, training beats chance, and the command line."""
import numpy as np
import pytest
import torch

from mmlib.data.core import make_dataset, spec_for_arrays
from mmlib.methods import make_method
from mmlib.methods.cmpt import CMPT, parameter_counts
from mmlib.shapley import subsets
from mmlib.train import TrainConfig, fit, predict

from chapters import paper_claims


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMLIB_QUIET", "1")


def toy(n=120, seed=0, modalities=("image", "text"), num_classes=3):
    """Vector modalities, each holding the class weakly: a small stand-in for CUB (or MOSI with three)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    arrays = {name: np.concatenate([np.eye(num_classes)[y] * 2.0, rng.normal(size=(n, 4))], 1) + rng.normal(size=(n, 4 + num_classes))
              for name in modalities}
    return make_dataset(spec_for_arrays("toy", arrays, num_classes), arrays, y)


def test_lora_is_rank_one_and_only_lora_tokens_and_head_learn():
    dataset = toy()
    d_model, layers = 16, 2
    method = make_method("cmpt", dataset.spec, d_model=d_model, num_layers=layers, num_heads=2)
    lora = {name: p for name, p in method.named_parameters() if "lora_" in name}
    for name, parameter in lora.items():
        assert 1 in parameter.shape and parameter.numel() == d_model, name  # A: 1 x d, B: d x 1
    for modality in ("image", "text"):
        for block in range(layers):
            for projection in ("q", "k", "v", "out"):
                prefix = f"encoders.{modality}.blocks.{block}.attention.{projection}.lora_"
                assert sum(name.startswith(prefix) for name in lora) == 2, prefix
    learnable = {name for name, p in method.named_parameters() if p.requires_grad}
    assert learnable == set(lora) | {"proxies.image", "proxies.text", "head.weight", "head.bias"}
    counts = parameter_counts(method)
    expected = 2 * layers * 4 * 2 * d_model + 2 * 1 * d_model + d_model * 3 + 3
    assert counts["learnable"] == expected and counts["total"] > 20 * expected


def gate_inputs(method, batch_size=5):
    """Encoder outputs with known values: proxies then class token then the other tokens, per modality."""
    torch.manual_seed(0)
    return {name: torch.randn(batch_size, method.num_proxies + 1 + 4, method.d_model)
            for name in method.spec.modality_names}


def test_gate_picks_the_proxy_exactly_when_a_modality_is_absent():
    method = make_method("cmpt", toy().spec, d_model=8, num_heads=2)
    tokens = gate_inputs(method)
    cls = {name: tokens[name][:, 1] for name in tokens}
    proxy = {name: tokens[name][:, 0] for name in tokens}
    present = torch.tensor([[True, True], [True, False], [False, True], [True, False], [True, True]])
    _, fused = method.fuse(tokens, present)
    expected = torch.stack([
        cls["image"][0] + cls["text"][0],   # both present: the class tokens
        cls["image"][1] + proxy["image"][1],  # text absent: CMPT of image stands for it
        cls["text"][2] + proxy["text"][2],  # image absent: CMPT of text
        cls["image"][3] + proxy["image"][3],
        cls["image"][4] + cls["text"][4],
    ])
    assert torch.allclose(fused, expected)


def test_without_cmpt_an_absent_class_token_is_left_out():
    method = make_method("cmpt", toy().spec, d_model=8, num_heads=2, use_cmpt=False)
    assert method.num_proxies == 0 and method.proxies is None
    tokens = gate_inputs(method)
    _, fused = method.fuse(tokens, torch.tensor([[True, False]] * 5))
    assert torch.allclose(fused, tokens["image"][:, 0])


def test_alignment_loss_uses_complete_samples_only():
    method = make_method("cmpt", toy().spec, d_model=8, num_heads=2)
    tokens = gate_inputs(method)
    present = torch.tensor([[True, True], [True, False], [False, True], [True, True], [True, False]])
    loss = method.alignment_loss(tokens, present)
    complete = present.all(1)
    expected = (torch.nn.functional.mse_loss(tokens["image"][complete, 0], tokens["text"][complete, 1])
                + torch.nn.functional.mse_loss(tokens["text"][complete, 0], tokens["image"][complete, 1]))
    assert torch.allclose(loss, expected)
    changed = {name: value.clone() for name, value in tokens.items()}
    for name in changed:
        changed[name][~complete] += 100.0  # incomplete samples do not enter Eq. 4
    assert torch.allclose(method.alignment_loss(changed, present), loss)
    assert method.alignment_loss(tokens, torch.tensor([[True, False]] * 5)) == 0


def test_three_modalities_one_proxy_per_ordered_pair():
    dataset = toy(modalities=("text", "audio", "video"))
    method = make_method("cmpt", dataset.spec, d_model=8, num_heads=2)
    assert method.num_proxies == 2 and method.proxies["text"].shape == (1, 2, 8)
    tokens = gate_inputs(method)
    cls = {n: tokens[n][:, 2] for n in tokens}
    # proxies of modality i in spec order of the others: text -> (audio, video), audio -> (text, video), ...
    proxy = {("text", "audio"): tokens["text"][:, 0], ("text", "video"): tokens["text"][:, 1],
             ("audio", "text"): tokens["audio"][:, 0], ("audio", "video"): tokens["audio"][:, 1],
             ("video", "text"): tokens["video"][:, 0], ("video", "audio"): tokens["video"][:, 1]}
    present = torch.tensor([[True, True, False], [True, False, False], [False, True, True]] + [[True] * 3] * 2)
    _, fused = method.fuse(tokens, present)
    assert torch.allclose(fused[0], (cls["text"] + cls["audio"] + (proxy["text", "video"] + proxy["audio", "video"]) / 2)[0])
    assert torch.allclose(fused[1], (cls["text"] + proxy["text", "audio"] + proxy["text", "video"])[1])
    assert torch.allclose(fused[2], (cls["audio"] + cls["video"] + (proxy["audio", "text"] + proxy["video", "text"]) / 2)[2])
    # Eq. 4 over ordered pairs, each on the samples holding both modalities of the pair
    loss = method.alignment_loss(tokens, present)
    expected = sum(torch.nn.functional.mse_loss(proxy[i, j][present[:, dataset.spec.index(i)] & present[:, dataset.spec.index(j)]],
                                                cls[j][present[:, dataset.spec.index(i)] & present[:, dataset.spec.index(j)]])
                   for (i, j) in proxy)
    assert torch.allclose(loss, expected)


def test_subset_logits_equal_forward_on_each_subset():
    dataset = toy(n=10, modalities=("text", "audio", "video"))
    method = make_method("cmpt", dataset.spec, d_model=8, num_heads=2).eval()
    batch = dataset.batch()
    table = method.subset_logits(batch)
    members = subsets(3)
    for k in range(8):
        assert torch.allclose(table[:, k], method(batch.with_present(members[k].expand(10, -1))).logits, atol=1e-5)


def test_pretraining_freezes_loads_and_is_cached(tmp_path):
    train, val = toy(n=90, seed=0), toy(n=30, seed=1)
    config = TrainConfig(epochs=2, batch_size=16, progress=False)
    first = make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain_epochs=2)
    first.prepare(train, val, config)
    models = list((tmp_path / "cache" / "models").glob("cmpt-*.pt"))
    assert len(models) == 2  # one pre-trained encoder per modality
    stamps = {path: path.stat().st_mtime_ns for path in models}
    second = make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain_epochs=2)
    second.prepare(train, val, config)
    assert {path: path.stat().st_mtime_ns for path in models} == stamps  # read, not pre-trained again
    frozen = {n: p for n, p in first.named_parameters() if "base_layer" in n}
    for name, parameter in second.named_parameters():
        if name in frozen:
            assert torch.equal(parameter, frozen[name]) and not parameter.requires_grad
    assert first.train_dropout is not None and first.train_dropout.p == 0.5  # complete data: modality dropout
    incomplete = train.with_missing(torch.stack([torch.arange(90) % 3 != 0, torch.ones(90, dtype=torch.bool)], 1))
    second.prepare(incomplete, val, config)
    assert second.train_dropout is None
    assert len(list((tmp_path / "cache" / "models").glob("cmpt-*.pt"))) == 3  # new image data: a new encoder


def test_training_beats_chance():
    train, val, test = toy(n=240, seed=0), toy(n=60, seed=1), toy(n=150, seed=2)
    method = make_method("cmpt", train.spec, d_model=16, num_heads=2, pretrain_epochs=6)
    fit(method, train, val, CMPT.recipe.updated(epochs=6, warmup_epochs=1, batch_size=16, progress=False))
    for keep in ([True, True], [True, False], [False, True]):
        masked = test.with_missing(torch.tensor(keep).expand(len(test), -1))
        accuracy = (predict(method, masked).argmax(1) == test.y).float().mean().item()
        assert accuracy > 0.5, keep  # chance is about 1/3


def test_table6_and_the_parameter_count_name_every_comparator_of_their_table():
    module = paper_claims("cmpt")
    # Tables 1 and 6 against every baseline of the book (all run in notebook 01), not the weaker one; the parameter
    # count against the no-proxy ablation too
    for claim_id in ("cmpt.table1", "cmpt.table6"):
        assert set(module.BY_ID[claim_id].comparators()) == set(module.BASELINES)
        assert module.BY_ID[claim_id].datasets == ("cub",)
        on_avletters = module.BY_ID[f"{claim_id}_avletters"]
        assert set(on_avletters.comparators()) == set(module.BASELINES) and on_avletters.datasets == ("avletters",)
        assert module.BY_ID[f"{claim_id}_avletters_same_encoders"].comparators() == [module.SAME_ENCODERS_TRAINING]
    # the parameter count against the baselines only: the no-proxy ablation is CMPT minus its proxies, fewer by
    # construction, so a verdict against it could not come out the other way (the notebook shows its count instead)
    assert set(module.BY_ID["cmpt.fewest_parameters"].comparators()) == set(module.BASELINES)


def test_the_fewest_parameters_claim_can_come_out_either_way():
    import pandas as pd
    from mmlib.claims import judge

    module = paper_claims("cmpt")
    spec = toy().spec
    models = {"CMPT": ("cmpt", {}), "modality dropout": ("cmpt", {"use_cmpt": False}),
              "baseline": ("cmpt", {"use_cmpt": False, "modality_dropout": None}),
              "concat": ("concat", {}), "dropout": ("dropout", {}), "transformer": ("transformer", {})}
    rows = [dict(method=label, seed=seed, dataset="toy", condition="all", metric="learnable parameters",
                 value=parameter_counts(make_method(name, spec, **options))["learnable"])
            for label, (name, options) in models.items() for seed in range(5)]
    table = pd.DataFrame(rows)
    counts = table.groupby("method").value.first()
    assert counts["modality dropout"] < counts["CMPT"] < min(counts[m] for m in module.BASELINES)
    assert judge(module.BY_ID["cmpt.fewest_parameters"], table).verdict.verdict == "supported"
    # a baseline with fewer learnable parameters than CMPT contradicts it
    fewer = table.assign(value=table.value.where(table.method != "concat", counts["CMPT"] // 2))
    judged = judge(module.BY_ID["cmpt.fewest_parameters"], fewer)
    assert judged.verdict.verdict == "contradicted" and judged.verdict.comparator == "concat"
