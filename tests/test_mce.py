"""MCE: the factors A (Eq. 3) and B (Eq. 4-8) on hand-computed batches, the subsets of Eq. 10-11, exact against
Monte-Carlo Shapley, training, the command line."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mmlib.data.core import Batch, make_dataset
from mmlib.methods import make_method
from mmlib.methods.mce import batch_subsets, code_variant_shapley, dataset_factor, learning_state_factor
from mmlib.train import TrainConfig, fit, predict

from chapters import paper_claims
from toydata import weak_signal


def toy(n=240, seed=0):
    """Three vector modalities, each carrying the class weakly; imbalanced presence (most missing: video)."""
    spec, arrays, y, rng = weak_signal(n, seed)
    present = np.ones((n, 3), dtype=bool)
    present[np.arange(n) % 2 == 0, 2] = False
    present[np.arange(n) % 5 == 1, 1] = False
    return make_dataset(spec, arrays, y).with_missing(torch.from_numpy(present))


def test_dataset_factor_by_hand():
    present = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 0, 0]], dtype=torch.bool)
    # Eq. 3: A = N / counts = 4/4, 4/2, 4/1 = (1, 2, 4); normalised by the mean 7/3
    assert dataset_factor(present).tolist() == pytest.approx([3 / 7, 6 / 7, 12 / 7])


def test_shapley_and_b_by_hand():
    dataset = toy(n=6)
    method = make_method("mce", dataset.spec)
    present = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    batch = Batch({k: v[:2] for k, v in dataset.x.items()}, present, torch.tensor([0, 1]), {})
    table = torch.zeros(2, 8)
    # sample 0 (modalities 0 and 1): v({0}) = 1, v({1}) = 0, v({0,1}) = 1 -> phi = (1, 0, 0)
    table[0, [1, 3]] = 1.0
    # modality 2 is absent from sample 0: a table that credits it must not change its values (restrict_to)
    table[0, [4, 5, 6, 7]] = 1.0
    # sample 1 (all three): v = 1 only on the full set -> phi = 1/3 each
    table[1, 7] = 1.0
    phi = method.shapley_values(batch, table)
    assert phi.tolist() == [pytest.approx([1.0, 0.0, 0.0]), pytest.approx([1 / 3, 1 / 3, 1 / 3])]
    # Eq. 7-8: U = (1+1, 0+1, 1) summed over the batch, phi = (4/3, 1/3, 1/3), counts (2, 2, 1)
    upper = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    factor_b = learning_state_factor(phi, upper, present)
    assert factor_b.tolist() == pytest.approx([(2 - 4 / 3) / 2, (1 - 1 / 3) / 2, (1 - 1 / 3) / 1])
    # the paper's Table 6, IEMOCAP early epoch: U = (91, 26, 12), phi = (23.67, 11.67, 4), counts (101, 65, 20)
    counts = torch.tensor([101, 65, 20])
    rows = torch.arange(101).unsqueeze(1) < counts  # a presence pattern with those counts
    shapley = torch.tensor([71 / 3, 35 / 3, 4.0]) / counts * rows
    upper = torch.tensor([91.0, 26.0, 12.0]) / counts * rows
    assert learning_state_factor(shapley, upper, rows).tolist() == pytest.approx([0.6667, 0.2205, 0.4], abs=1e-4)


def test_b_is_never_negative():
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        present = torch.rand(16, 3, generator=generator) < 0.6
        shapley = torch.rand(16, 3, generator=generator) * present
        upper = (torch.rand(16, 3, generator=generator) < 0.3) * present
        factor_b = learning_state_factor(shapley, upper.float(), present)
        assert (factor_b >= 0).all()


def test_code_variant_differs_from_eq5():
    table = torch.tensor([[0.0, 1.0, 0.0, 1.0]])  # v({0}) = 1, v({1}) = 0, v({0,1}) = 1
    # the code's v(S) - v({i}) credits modality 1 for the pair although it adds nothing to modality 0
    assert code_variant_shapley(table).tolist() == [pytest.approx([0.0, 0.5])]


def test_l_sub_enumerates_exactly_the_subsets_in_the_batch():
    present = torch.tensor([[1, 1, 0], [0, 0, 1], [0, 1, 0]], dtype=torch.bool)
    found = {tuple(row) for row in batch_subsets(present).int().tolist()}
    assert found == {(1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1)}
    # Eq. 11 computed by forward equals a loop over those subsets
    torch.manual_seed(0)
    dataset = toy(n=12)
    method = make_method("mce", dataset.spec, dropout=0.0, lambda_single=0.0, lambda_aux=0.0, use_b=False)
    method.train()
    batch = dataset.batch(torch.arange(3))
    batch = batch.with_present(present)
    loss = method(batch).losses["sub"]
    tokens = method.encode(batch)
    expected = []
    for members in batch_subsets(present):
        rows = (present & members).eq(members).all(1)
        logits, _ = method.fuse({k: v[rows] for k, v in tokens.items()}, members.expand(int(rows.sum()), -1))
        expected.append(F.cross_entropy(logits, batch.y[rows]))
    assert loss.item() == pytest.approx(2.0 * torch.stack(expected).mean().item(), rel=1e-4)


def test_exact_and_monte_carlo_shapley_agree():
    torch.manual_seed(0)
    dataset = toy(n=64)
    exact = make_method("mce", dataset.spec).eval()
    sampled = make_method("mce", dataset.spec, shapley="monte_carlo", num_permutations=3000).eval()
    sampled.load_state_dict(exact.state_dict())
    batch = dataset.batch(torch.arange(64))
    torch.manual_seed(1)
    phi_exact = exact.shapley_values(batch)
    phi_sampled = sampled.shapley_values(batch)
    assert (phi_sampled[~batch.present] == 0).all()
    assert phi_exact.sum(0).tolist() == pytest.approx(phi_sampled.sum(0).tolist(), abs=1.5)
    assert (phi_exact - phi_sampled).abs().mean() < 0.03


def test_mce_beats_chance_and_reports_its_losses():
    torch.manual_seed(0)
    train, test = toy(n=300, seed=0), toy(n=150, seed=1)
    method = make_method("mce", train.spec, d_model=32, unimodal_epochs=3)
    history = fit(method, train, None, TrainConfig(epochs=6, batch_size=32, lr=3e-3, progress=False))
    assert {"loss_sub", "loss_single", "loss_aux"} <= set(history[-1])
    assert not any(p.requires_grad for p in method.unimodal.parameters())
    accuracy = (predict(method, test).argmax(-1) == test.y).float().mean().item()
    assert accuracy > 0.6  # chance is 1/3
    assert set(method.last_factors) >= {"upper", "shapley", "B"}


def test_runs_differing_in_mce_options_share_the_unimodal_models(monkeypatch, tmp_path):
    from mmlib.methods import mce

    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    train = toy(n=120)
    config = TrainConfig(epochs=1, batch_size=32, lr=3e-3, seed=3)

    def prepared(**options):
        torch.manual_seed(0)
        method = make_method("mce", train.spec, d_model=16, unimodal_epochs=2, **options)
        method.prepare(train, None, config)
        return method.unimodal.state_dict()

    trained = prepared()
    monkeypatch.setattr(mce, "_fit_unimodal", lambda *args: pytest.fail("the kept model was trained again"))
    shared = prepared(lambda_aux=20.0, use_a=False)
    assert all(torch.equal(value, shared[name]) for name, value in trained.items())


def test_table7_and_table8_claims_compare_like_with_like():
    module = paper_claims("mce")
    # Table 7 is judged against MCE's own model without enhancement (row a), not concat's zero blocks
    assert module.BY_ID["mce.table7_ratio"].comparator == "row a"
    # the Monte-Carlo and exact Shapley costs are compared as evaluations of their own, lower is better
    assert module.BY_ID["mce.table8_mc_cheaper"].lower_is_better
