"""Missing-modality protocols: realised rates (to within one sample), determinism, the papers' semantics."""
import numpy as np
import pytest
import torch

from mmlib.data.core import make_dataset, spec_for_arrays
from mmlib.missing import (FrameMasking, Heterogeneous, ImbalancedRates, ModalityDropout, SingleAbsence, Subsets,
                           parse_protocol, subset_conditions)


def toy(n=503, lengths=True, seed=0):
    """Three modalities: a vector, a variable-length sequence and an image."""
    rng = np.random.default_rng(seed)
    arrays = {"text": rng.normal(size=(n, 10)) + 0.1, "audio": rng.normal(size=(n, 12, 4)) + 0.1,
              "image": rng.random(size=(n, 1, 6, 6)) + 0.1}
    y = rng.integers(0, 3, n)
    frame_mask = None
    if lengths:
        length = rng.integers(3, 13, n)
        frame_mask = {"audio": np.arange(12)[None, :] < length[:, None]}
    spec = spec_for_arrays("toy", arrays, 3)
    return make_dataset(spec, arrays, y, frame_mask=frame_mask)


def test_subset_conditions_in_table_order():
    names = [name for name, _ in subset_conditions(toy().spec)]
    assert names == ["text", "audio", "image", "text+audio", "text+image", "audio+image", "text+audio+image"]


def test_subsets_zero_what_is_absent():
    dataset = toy()
    masked = Subsets().apply(dataset, "text+image")
    assert masked.present[:, 1].sum() == 0 and masked.present[:, [0, 2]].all()
    assert masked.x["audio"].abs().sum() == 0 and not masked.frame_mask["audio"].any()
    assert torch.equal(masked.x["text"], dataset.x["text"])
    with pytest.raises(ValueError, match="unknown subset"):
        Subsets().apply(dataset, "text+smell")


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 0.9])
def test_frame_masking_drops_the_ratio_of_each_samples_real_frames(ratio):
    dataset = toy()
    mask = FrameMasking(ratio).mask(dataset, seed=1)
    real = dataset.frame_mask["audio"]
    kept = mask.keep["audio"] & real
    expected_dropped = torch.round(ratio * real.sum(1).double())
    assert torch.equal((real.sum(1) - kept.sum(1)).double(), expected_dropped)
    vector_dropped = (~mask.keep["text"]).sum(1)
    assert torch.all(vector_dropped == round(ratio * 10))
    assert "image" not in mask.keep
    masked = mask.apply(dataset)
    assert torch.all(masked.x["audio"][~masked.frame_mask["audio"]] == 0)


def test_frame_masking_refuses_images():
    with pytest.raises(ValueError, match="image"):
        FrameMasking(0.5, ("image",)).mask(toy())


@pytest.mark.parametrize("eta", [0.1, 0.3, 0.5, 0.7, 1.0])
def test_heterogeneous_mix_follows_appendix_a4(eta):
    dataset = toy()
    protocol = Heterogeneous(eta)
    mask = protocol.mask(dataset, seed=2)
    n = len(dataset)
    inter = ~mask.present.all(1)
    intra = torch.zeros(n, dtype=torch.bool)
    for name, keep in mask.keep.items():
        reference = dataset.frame_mask.get(name, torch.ones_like(keep))
        intra |= ((reference & ~keep).any(1))
    both = inter & intra
    # shares 2eta/5 inter only, 2eta/5 intra only, eta/5 both, to within one sample
    assert abs(int((inter & ~intra).sum()) - 2 * eta / 5 * n) <= 1
    assert abs(int((intra & ~inter).sum()) - 2 * eta / 5 * n) <= 1
    assert abs(int(both.sum()) - eta / 5 * n) <= 1
    assert abs(int((inter | intra).sum()) - eta * n) <= 1
    assert mask.present.any(1).all()  # nobody loses every modality


def test_single_absence_cmpt_and_mgr_semantics():
    dataset = toy(n=1000)
    # CMPT "image 30% / text 100%": 70% of samples miss the image, nothing else
    mask = SingleAbsence.availability({"image": 0.3}).mask(dataset, seed=0)
    assert int((~mask.present[:, 2]).sum()) == 700 and mask.present[:, :2].all()
    # CMPT missing-both at eta = 70%: 35% text only, 35% image only
    mask = SingleAbsence({"text": 0.35, "image": 0.35}).mask(dataset, seed=0)
    assert int((~mask.present[:, 0]).sum()) == 350 and int((~mask.present[:, 2]).sum()) == 350
    assert (mask.present.sum(1) >= 2).all()
    # MGR prevalence kappa = 0.7 over three modalities: 70% miss exactly one, spread evenly
    mask = SingleAbsence.prevalence(0.7, ["text", "audio", "image"]).mask(dataset, seed=0)
    missing_one = mask.present.sum(1) == 2
    assert int(missing_one.sum()) == 700 and (mask.present.sum(1) >= 2).all()
    per_modality = (~mask.present).sum(0)
    assert per_modality.max() - per_modality.min() <= 1
    # kappa = 1: every sample misses one
    assert (SingleAbsence.prevalence(1.0, ["text", "audio", "image"]).mask(dataset).present.sum(1) == 2).all()


@pytest.mark.parametrize("rates", [(0.2, 0.5, 0.8), (0.8, 0.5, 0.2), (0.5, 0.8, 0.2), (0.9, 0.9, 0.0)])
def test_imbalanced_rates_are_exact_and_keep_one_modality(rates):
    dataset = toy(n=777)
    protocol = ImbalancedRates(dict(zip(["text", "audio", "image"], rates)))
    mask = protocol.mask(dataset, seed=4)
    realised = (~mask.present).sum(0).double()
    expected = torch.tensor(rates, dtype=torch.float64) * len(dataset)
    assert torch.all((realised - expected).abs() <= 1)
    assert mask.present.any(1).all()


def test_impossible_rates_are_a_clear_error():
    with pytest.raises(ValueError, match="cannot all hold"):
        ImbalancedRates({"text": 1.0, "audio": 1.0, "image": 1.0}).mask(toy())


def test_same_seed_same_masks_other_seed_other_masks():
    dataset = toy()
    for protocol in (Heterogeneous(0.5), SingleAbsence.prevalence(0.7, ["text", "audio"]),
                     ImbalancedRates({"text": 0.2, "audio": 0.5, "image": 0.8}), FrameMasking(0.3)):
        first, again, other = (protocol.mask(dataset, seed=s) for s in (7, 7, 8))
        assert torch.equal(first.present, again.present)
        assert all(torch.equal(first.keep[k], again.keep[k]) for k in first.keep)
        differs = not torch.equal(first.present, other.present) or any(
            not torch.equal(first.keep[k], other.keep[k]) for k in first.keep)
        assert differs


def test_protocols_never_restore_what_is_missing():
    dataset = toy()
    already = Subsets().apply(dataset, "text+audio")
    again = SingleAbsence.prevalence(0.5, ["text"]).apply(already)
    assert not again.present[:, 2].any()


def test_modality_dropout_keeps_one_and_hits_its_rate():
    present = torch.ones(20000, 3, dtype=torch.bool)
    generator = torch.Generator().manual_seed(0)
    kept = ModalityDropout(0.5).sample(present, generator)
    assert kept.any(1).all()
    drop_rate = 1 - kept.float().mean().item()
    assert abs(drop_rate - ModalityDropout.expected_drop_rate(0.5, 3)) < 0.01
    # a sample that already has one modality keeps it; an absent one is never restored
    partial = torch.tensor([[True, False, False]] * 100)
    assert torch.equal(ModalityDropout(0.5).sample(partial, generator), partial)
    again = ModalityDropout(0.5).sample(present[:50], torch.Generator().manual_seed(1))
    assert torch.equal(again, ModalityDropout(0.5).sample(present[:50], torch.Generator().manual_seed(1)))


def test_parse_protocol_forms_and_errors():
    spec = toy().spec
    assert isinstance(parse_protocol("subsets", spec), Subsets)
    assert parse_protocol("frames:0.3", spec).ratio == 0.3
    assert parse_protocol("heterogeneous:0.5", spec).eta == 0.5
    assert parse_protocol("kappa:0.7:text,audio", spec).shares == {"text": 0.35, "audio": 0.35}
    assert parse_protocol("absent:image=0.7", spec).shares == {"image": 0.7}
    assert parse_protocol("rates:text=0.2,audio=0.5,image=0.8", spec).rates["image"] == 0.8
    for bad, message in [("nonsense", "unknown protocol"), ("kappa:0.7:smell", "smell"), ("frames:2", "ratio"),
                         ("rates:text=abc", "abc")]:
        with pytest.raises(ValueError, match=message):
            parse_protocol(bad, spec)
