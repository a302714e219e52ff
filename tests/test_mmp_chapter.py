"""MMP, issue 17: the inference-only ablation's switch (projected tokens against the missing-modality embedding on
the same weights), and what the chapter's grid runs per profile (d, tokens, Table I's real-token dataset, Table II)."""

import pytest
import torch

from mmlib.data.core import make_dataset
from mmlib.experiment import budget
from mmlib.methods import make_method
from mmlib.methods.baselines import TransformerFusion

from toydata import weak_signal


def toy(n=32, seed=0):
    spec, arrays, y, rng = weak_signal(n, seed)
    return make_dataset(spec, arrays, y)


def test_missing_embedding_fill_changes_only_the_missing_modalities_path():
    torch.manual_seed(0)
    data = toy(16)
    method = make_method("mmp", data.spec, d_model=16).eval()
    batch = data.batch(torch.arange(16))
    present = torch.ones(16, 3, dtype=torch.bool)
    present[:, 1] = False
    missing = batch.with_present(present)
    projected = method(missing).logits
    method.fill_missing = "missing_embedding"
    embedded = method(missing).logits
    # the backbone's own path on the same weights: the missing embedding where a modality is absent
    backbone = TransformerFusion.fuse(method, method.encode(missing), missing.present)[0]
    assert torch.allclose(embedded, backbone, atol=1e-6)
    assert not torch.allclose(embedded, projected, atol=1e-4)  # the projection is what differs
    complete = method(batch).logits  # nothing missing: nothing to fill, both paths agree
    method.fill_missing = "projection"
    assert torch.allclose(complete, method(batch).logits, atol=1e-6)
    method.fill_missing = "zeros"
    with pytest.raises(ValueError, match="fill_missing"):
        method(missing)


def test_mmp_training_never_reads_the_missing_embedding():
    """Why the ablation's placeholder is untrained (the module's docstring and the chapter say so)."""
    torch.manual_seed(0)
    data = toy(64)
    method = make_method("mmp", data.spec, d_model=16).train()
    output = method(data.batch(torch.arange(64)))
    (torch.nn.functional.cross_entropy(output.logits, data.y) + sum(output.losses.values())).backward()
    # a zero gradient (torch.where never selects it): only the optimiser's weight decay moves it
    assert all(p.grad is None or not p.grad.any() for p in method.missing.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.available.parameters())
    dropout = make_method("transformer_dropout", data.spec, d_model=16).train()
    present = torch.ones(64, 3, dtype=torch.bool)
    present[::2, 0] = False
    out = dropout(data.batch(torch.arange(64)).with_present(present))
    torch.nn.functional.cross_entropy(out.logits, data.y).backward()
    first = dropout.missing[data.spec.modality_names[0]]
    assert first.grad is not None and first.grad.any()  # where Dropout's training does read it


def test_profiles_say_what_each_runs(monkeypatch):
    """The table of notebook 01 and the page (:func:`profile_settings`) against what each profile's grids build:
    every experiment's model (width and tokens of what its encoders return), its training configuration and seeds
    as a run gets them (:func:`mmlib.experiment.build_method`), and the datasets and methods of each grid."""
    import functools
    import re

    import mmlib.experiment as experiment_module
    from mmbook.mmp.grid import LABELS, TOKEN_DATASETS, Chapter, profile_settings
    from mmlib.data.registry import load_dataset

    monkeypatch.setattr(experiment_module, "load_dataset", functools.lru_cache(None)(load_dataset))  # once a set
    settings = profile_settings()
    for profile in ("smoke", "quick", "paper"):
        said, chapter = settings[profile], Chapter(profile)
        table1, table2, two_stage = chapter.table1(), chapter.table2(), chapter.two_stage()
        cub = chapter.cub()[0]
        own = table1 + cub + two_stage  # the chapter's models: the backbone and its trainings
        # the encoders' tokens of each kind, as the table says them
        grid = re.fullmatch(r"(\d+) x (\d+) grid of convolutional features",
                            said["tokens per image (the encoder's own)"])
        spans = re.fullmatch(r"means over (\d+) spans of frames", said["tokens per sequence (the encoder's own)"])
        tokens = {"vector": int(said["tokens per vector modality"]), "image": int(grid[1]) * int(grid[2]),
                  "sequence": int(spans[1])}
        optimizer, batch_size, lr = said["optimiser, batch, lr"].split(", ")
        kinds = set()
        for experiment in own + table2:
            assert len(experiment.seed_list()) == said["seeds"], (profile, experiment)
            method, splits, config = experiment_module.build_method(experiment, experiment.seed_list()[0])
            assert (config.epochs, config.optimizer, config.batch_size, config.lr) == (
                said["epochs (every model and dataset)"], optimizer, int(batch_size), float(lr)), (profile, experiment)
            encoded = method.encode(splits.train.batch(torch.arange(2)))
            for modality in splits.spec.modalities:
                assert encoded[modality.name].shape[-1] == said["d (width of every token)"], (profile, experiment)
                if experiment in own:  # Table II's other methods may add tokens of their own (CMPT's proxies)
                    assert encoded[modality.name].shape[1] == tokens[modality.kind], (profile, experiment, modality)
                    kinds.add(modality.kind)
        assert kinds == set(tokens)  # every row of tokens is checked against a model at every profile
        datasets = lambda experiments: ", ".join(dict.fromkeys(e.dataset for e in experiments))  # noqa: E731
        assert said["Table I datasets"] == datasets(table1)
        assert said["two-stage datasets"] == datasets(two_stage)
        first = {e.method for e in table1}
        others = [LABELS[e.method] for e in table2 if e.method not in first]
        assert said["Table II methods (AV-MNIST)"] == ", ".join(others)
        assert set(TOKEN_DATASETS) <= {e.dataset for e in table1}  # real images and sequences at every profile
        # Table II reuses Table I's runs (the same experiments: cache hits) and one budget
        keys = {e.key(0) for e in table1}
        assert all(e.key(0) in keys for e in table2 if e.method in first)
        assert len({budget(e) for e in table2 + table1}) == 1


def test_quick_leaves_mfeat_to_paper_and_says_so_in_the_claims():
    """The chapter's CPU budget: mfeat (63 subsets, the costliest MMP) trains only at paper; the claims that name it
    are judged at the other profiles on the datasets that trained, and their rows say which was left out."""
    from mmbook.mmp.grid import Chapter
    from mmbook.mmp.paper_claims import CLAIMS

    assert "mfeat" in Chapter("paper").table1_datasets
    assert "mfeat" in Chapter("paper").two_stage_datasets
    for profile in ("smoke", "quick"):
        chapter = Chapter(profile)
        assert "mfeat" not in chapter.table1_datasets
        assert set(chapter.two_stage_datasets) <= set(chapter.table1_datasets)
        trained_here = {e.dataset for e in chapter.table1() + chapter.table2() + chapter.cub()[0]}
        for claim in CLAIMS:
            scoped = chapter.scoped(claim)
            if claim.datasets and "mfeat" in claim.datasets and claim.notebook.startswith("mmp/01"):
                assert "mfeat" not in scoped.datasets and set(scoped.datasets) <= trained_here
                assert set(scoped.datasets) == set(claim.datasets) - {"mfeat"}
                assert "mfeat" in scoped.note and profile in scoped.note
            else:  # the others, and the cost claims (notebook 03 times mfeat at every profile), as declared
                assert scoped == claim
    assert any("mfeat" in c.datasets for c in CLAIMS if c.notebook.startswith("mmp/03"))
    paper = Chapter("paper")
    assert all(paper.scoped(claim) == claim for claim in CLAIMS)  # paper judges every claim as declared
