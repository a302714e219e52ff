"""CMPT's encoders pre-trained on data disjoint from the training split (``pretrain_source``) and AV-MNIST's spare
digits (mmlib.data.spare)."""
import numpy as np
import pytest
import torch

from mmlib.data import spare
from mmlib.data.core import DataError
from mmlib.methods import make_method
from mmlib.train import TrainConfig

from test_cmpt import toy


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMLIB_QUIET", "1")


def external_images(data_dir=None):
    """A stand-in source: 100 'image' vectors of the toy's shape, their classes in the first three entries."""
    other = toy(n=100, seed=7)
    return other.x["image"], other.y


def encoder_state(method, name):
    return {k: v.clone() for k, v in method.encoders[name].state_dict().items() if "lora_" not in k}


def test_a_source_pre_trains_the_modalities_it_holds_and_only_those(monkeypatch, tmp_path):
    monkeypatch.setitem(spare.SOURCES, "toy-spare", ("toy", {"image": external_images}))
    train, val = toy(n=90, seed=0), toy(n=30, seed=1)
    config = TrainConfig(epochs=2, batch_size=16, progress=False)
    own = make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain_epochs=2)
    own.prepare(train, val, config)
    disjoint = make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain_epochs=2, pretrain_source="toy-spare")
    disjoint.prepare(train, val, config)
    assert len(list((tmp_path / "cache" / "models").glob("cmpt-encoder-image-*.pt"))) == 2  # two image encoders
    assert len(list((tmp_path / "cache" / "models").glob("cmpt-encoder-text-*.pt"))) == 1  # one text encoder, shared
    mine, theirs = encoder_state(own, "text"), encoder_state(disjoint, "text")
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    mine, theirs = encoder_state(own, "image"), encoder_state(disjoint, "image")
    assert not all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert not any(p.requires_grad for n, p in disjoint.encoders.named_parameters() if "lora_" not in n)


def test_a_source_of_the_wrong_shape_or_name_is_refused(monkeypatch):
    monkeypatch.setitem(spare.SOURCES, "too-wide", ("toy", {"image": lambda data_dir=None: (torch.zeros(20, 9),
                                                                                             torch.zeros(20).long())}))
    train, val = toy(n=60, seed=0), toy(n=20, seed=1)
    config = TrainConfig(epochs=1, batch_size=16, progress=False)
    with pytest.raises(DataError, match="shape"):
        make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain_source="too-wide").prepare(train, val, config)
    with pytest.raises(DataError, match="unknown pre-training source"):
        make_method("cmpt", train.spec, d_model=8, num_heads=2, pretrain_source="nowhere").prepare(train, val, config)


def test_avmnist_spare_digits_are_disjoint_from_every_pair():
    from mmlib.data import avmnist
    from mmlib.data.registry import _DATASETS, _folder

    try:
        images, labels = spare.spare_avmnist_images()
    except DataError as error:
        pytest.skip(f"AV-MNIST's files are not here: {error}")
    entry = _DATASETS["avmnist"]
    mnist, fsdd = (_folder("avmnist", folder, entry, None) for folder in entry.folders)
    all_images, all_labels = avmnist.read_mnist(mnist)
    used = avmnist._pairs(mnist, fsdd)["image_index"]
    assert len(images) + len(np.unique(used)) == len(all_images) and len(np.unique(used)) == len(used)
    assert images.shape[1:] == (1, 28, 28) and float(images.max()) <= 1.0
    spare_index = np.setdiff1d(np.arange(len(all_images)), used)
    assert np.array_equal(labels.numpy(), all_labels[spare_index])
    assert spare.pretraining_data("avmnist-spare-digits", "audio") is None  # every recording is paired
