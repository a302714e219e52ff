"""CMPT's premise measured (mmlib.methods.cmpt.proxy_fidelity): the linear reference, the table's shape, the
samples each pair is scored on, and that the proxy and the references are scored alike."""
import pandas as pd
import pytest
import torch

from mmlib.methods import make_method
from mmlib.methods import cmpt as cmpt_module
from mmlib.methods.cmpt import linear_map, proxy_fidelity, tokens_of

from test_cmpt import toy


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMLIB_QUIET", "1")


def test_linear_map_is_exact_on_affinely_related_tokens():
    generator = torch.Generator().manual_seed(0)
    source = torch.randn(200, 6, generator=generator)
    weight, bias = torch.randn(6, 4, generator=generator), torch.randn(4, generator=generator)
    mapped = linear_map(source, source @ weight + bias)
    new = torch.randn(30, 6, generator=generator)
    assert torch.allclose(mapped(new), new @ weight + bias, atol=1e-4)
    # a ridge shrinks the slope towards the mean: no longer exact, but still close for a small ridge
    shrunk = linear_map(source, source @ weight + bias, ridge=1e-2)(new)
    assert not torch.allclose(shrunk, new @ weight + bias, atol=1e-4)
    assert torch.allclose(shrunk, new @ weight + bias, atol=0.2)
    # scale-free: the same ridge on tokens ten times larger gives the same fit, scaled
    big = linear_map(10 * source, source @ weight + bias, ridge=1e-2)(10 * new)
    assert torch.allclose(big, shrunk, atol=1e-4)


def test_tokens_of_has_one_class_token_per_modality_and_one_proxy_per_other():
    dataset = toy(n=20, modalities=("text", "audio", "video"))
    method = make_method("cmpt", dataset.spec, d_model=8, num_heads=2, pretrain=False)
    cls, proxies = tokens_of(method, dataset, batch_size=7)  # batches joined in order
    assert cls.shape == (20, 3, 8) and proxies.shape == (20, 3, 2, 8)
    whole = method.class_and_proxy_tokens(method.encode(dataset.batch()))
    assert torch.allclose(cls, whole[0], atol=1e-6) and torch.allclose(proxies, whole[1], atol=1e-6)
    with pytest.raises(ValueError, match="no proxies"):
        tokens_of(make_method("cmpt", dataset.spec, d_model=8, num_heads=2, use_cmpt=False), dataset)


def synthetic_tokens(monkeypatch, n=60, d=5):
    """Replace the encoders' tokens by synthetic ones: text's class token an affine function of image's, the image's
    proxy equal to the text's class token (exact) and the text's proxy equal to the mean image token (constant)."""
    generator = torch.Generator().manual_seed(1)
    weight, bias = torch.randn(d, d, generator=generator), torch.randn(d, generator=generator)

    def fake(method, dataset, batch_size=256):
        g = torch.Generator().manual_seed(len(dataset))
        image = torch.randn(len(dataset), d, generator=g) + 3.0
        text = image @ weight + bias
        proxies = torch.stack([text, torch.full_like(image, 3.0)], 1).unsqueeze(2)  # B x M x 1 x d
        return torch.stack([image, text], 1), proxies

    monkeypatch.setattr(cmpt_module, "tokens_of", fake)


def test_proxy_fidelity_scores_the_proxy_and_both_references(monkeypatch):
    synthetic_tokens(monkeypatch)
    train, val, test = toy(n=200, seed=0), toy(n=50, seed=1), toy(n=80, seed=2)
    method = make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain=False)
    table = proxy_fidelity(method, train, val, test)
    assert list(table.columns) == ["present", "stands_for", "reference", "metric", "value"]
    assert len(table) == 2 * 3 * 2  # 2 ordered pairs x (proxy, training mean, linear regression) x (cosine, mse)
    value = table.set_index(["present", "stands_for", "reference", "metric"]).value
    # text from image is affine: the regression reference is exact (plain least squares wins on validation)
    assert value["image", "text", "linear regression", "mse"] < 1e-6
    assert value["image", "text", "linear regression", "cosine"] == pytest.approx(1.0, abs=1e-5)
    assert value["image", "text", "proxy", "mse"] == pytest.approx(0.0, abs=1e-10)  # the proxy is the token itself
    assert value["image", "text", "training mean", "mse"] > 0.1
    # the text's proxy is the constant 3 = the image tokens' mean (in expectation): no better than the mean
    assert value["text", "image", "proxy", "mse"] == pytest.approx(value["text", "image", "training mean", "mse"],
                                                                   rel=0.2)


def test_pairs_are_scored_on_samples_holding_both(monkeypatch):
    synthetic_tokens(monkeypatch)
    train, val, test = toy(n=200, seed=0), toy(n=50, seed=1), toy(n=80, seed=2)
    method = make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain=False)
    full = proxy_fidelity(method, train, val, test)
    half = torch.stack([torch.arange(80) % 2 == 0, torch.ones(80, dtype=torch.bool)], 1)
    masked = proxy_fidelity(method, train, val, test.with_missing(half))
    assert len(masked) == len(full) and not masked.value.isna().any()
    assert isinstance(masked, pd.DataFrame)
    # the proxy of image is exact on any subset of samples; the training mean's error changes with the subset
    exact = (masked.present == "image") & (masked.reference == "proxy") & (masked.metric == "mse")
    assert float(masked[exact].value.iloc[0]) == pytest.approx(0.0, abs=1e-10)
