"""MCE: the factors A (Eq. 3) and B (Eq. 4-8) on hand-computed batches, the subsets of Eq. 10-11, exact against
Monte-Carlo Shapley, training, the command line."""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mmlib.data.core import Batch, make_dataset
from mmlib.methods import make_method
from mmlib.methods.mce import batch_subsets, code_variant_shapley, dataset_factor, learning_state_factor
from mmlib.shapley import exact_shapley, restrict_to
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
    upper = torch.tensor([2.0, 1.0, 1.0])
    factor_b = learning_state_factor(phi.sum(0), upper, present.sum(0))
    assert factor_b.tolist() == pytest.approx([(2 - 4 / 3) / 2, (1 - 1 / 3) / 2, (1 - 1 / 3) / 1])


def test_eq8_on_the_papers_table6_numbers():
    """Not a reproduction of Table 6 (our runs make their own U, phi and counts): the paper's own U_m, phi_m and
    counts of its IEMOCAP batches fed into our Eq. 8 give the paper's B_m, which checks the normalisation (batch
    sums over the batch count of m) and, late in training, the masking the paper prints before applying it."""
    counts = torch.tensor([101.0, 65.0, 20.0])  # early epoch, (A, L, V)
    factor_b = learning_state_factor(torch.tensor([71 / 3, 35 / 3, 4.0]), torch.tensor([91.0, 26.0, 12.0]), counts)
    assert factor_b.tolist() == pytest.approx([0.6667, 0.2205, 0.4], abs=1e-4)
    counts = torch.tensor([105.0, 79.0, 25.0])  # late epoch: the paper prints B = (0.2984, -0.0717, -0.1067) unmasked
    shapley, upper = torch.tensor([179 / 3, 104 / 3, 32 / 3]), torch.tensor([91.0, 29.0, 8.0])
    assert ((upper - shapley) / counts).tolist() == pytest.approx([0.2984, -0.0717, -0.1067], abs=1e-4)
    assert learning_state_factor(shapley, upper, counts).tolist() == pytest.approx([0.2984, 0.0, 0.0], abs=1e-4)


def test_b_is_never_negative():
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        present = torch.rand(16, 3, generator=generator) < 0.6
        shapley = torch.rand(16, 3, generator=generator) * present
        upper = (torch.rand(16, 3, generator=generator) < 0.3) * present
        factor_b = learning_state_factor(shapley.sum(0), upper.float().sum(0), present.sum(0))
        assert (factor_b >= 0).all()


def test_code_variant_by_hand():
    """The authors' code (byzhaoAI/MCE, emotion_recog/models/mce_model.py, shapley_value) on a batch of three,
    worked by hand: counts c(T) over the samples that have T, L = 3 modalities in the batch, weights 1/6 for the
    pairs and 1/3 for the triple, phi_i = c({i})/3 + sum_T w(T) [c(T) - c({i})]."""
    table = torch.zeros(3, 8)  # bit i = modality i: rows {0}=1, {1}=2, {0,1}=3, {2}=4, {0,2}=5, {1,2}=6, {0,1,2}=7
    table[0, [1, 3, 5, 7]] = 1.0  # all three present: right whenever modality 0 is in the coalition
    table[1, [1, 2, 3]] = 1.0  # modalities 0 and 1: right on {0}, {1}, {0,1}
    table[1, [4, 5, 6, 7]] = 1.0  # coalitions with modality 2, absent from sample 1: must not be counted
    table[2, 4] = 1.0  # modality 2 alone, right
    present = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    # c{0} = 2, c{1} = 1, c{2} = 1, c{0,1} = 2, c{0,2} = 1, c{1,2} = 0, c{0,1,2} = 1
    # phi_0 = 2/3 + [(2 - 2) + (1 - 2)]/6 + (1 - 2)/3 = 1/6
    # phi_1 = 1/3 + [(2 - 1) + (0 - 1)]/6 + (1 - 1)/3 = 1/3
    # phi_2 = 1/3 + [(1 - 1) + (0 - 1)]/6 + (1 - 1)/3 = 1/6
    assert code_variant_shapley(table, present).tolist() == pytest.approx([1 / 6, 1 / 3, 1 / 6])
    # Eq. 5 on the same batch, one game per sample: (1, 0, 0) + (1/2, 1/2, 0) + (0, 0, 1)
    method = make_method("mce", toy(n=6).spec)
    batch = Batch({}, present, torch.zeros(3, dtype=torch.long), {})
    assert method.batch_shapley(batch, table).tolist() == pytest.approx([1.5, 0.5, 1.0])
    # a modality absent from the whole batch: L = 2, the game of the two present ones (weight 1/2 for the pair)
    pair = torch.tensor([[1, 1, 0]], dtype=torch.bool)
    assert code_variant_shapley(table[1:2], pair).tolist() == pytest.approx([0.5, 0.5, 0.0])


def _code_reference(table, present):
    """The code's batch Shapley values written out coalition by coalition, for checking the vectorised one."""
    num, size = present.shape[1], len(present)
    coalitions = [tuple(j for j in range(num) if k >> j & 1) for k in range(1, 2 ** num)]
    count = {c: sum(float(table[n, sum(1 << j for j in c)]) for n in range(size) if all(present[n, j] for j in c))
             for c in coalitions}
    in_batch = [j for j in range(num) if present[:, j].any()]
    players = len(in_batch)
    values = []
    for i in range(num):
        if i not in in_batch:
            values.append(0.0)
            continue
        value = count[(i,)] / players
        for c in coalitions:
            if i in c and len(c) > 1 and set(c) <= set(in_batch):
                s = len(c) - 1
                weight = math.factorial(s) * math.factorial(players - s - 1) / math.factorial(players)
                value += weight * (count[c] - count[(i,)])
        values.append(value)
    return values


def test_code_variant_matches_a_coalition_by_coalition_reference():
    generator = torch.Generator().manual_seed(0)
    for num in (2, 3, 4):
        for _ in range(10):
            present = torch.rand(9, num, generator=generator) < 0.6
            present[~present.any(1), 0] = True
            table = (torch.rand(9, 2 ** num, generator=generator) < 0.5).float()
            assert code_variant_shapley(table, present).tolist() == pytest.approx(_code_reference(table, present))


def test_the_code_variant_drives_b_in_training():
    """With ``shapley_variant="code"``, the B that weighs a real training step's L_single (Eq. 9) and L_aux (Eq. 13)
    is Eq. 7-8 on the code's batch values (:func:`code_variant_shapley`) of that step's coalition values, not on
    Eq. 5's; the same weights with Eq. 5 (the paper's variant) give another B and other losses."""
    import copy

    from mmlib.train import training_step

    torch.manual_seed(0)
    dataset = toy(n=64)
    config = TrainConfig(epochs=1, batch_size=64, lr=3e-3, seed=0, progress=False)
    # no dropout: the step's subset pass and the hand computations below see the same network
    code = make_method("mce", dataset.spec, d_model=16, dropout=0.0, shapley_variant="code", unimodal_epochs=2)
    code.prepare(dataset, None, config)  # A of Eq. 3 and the unimodal models of Eq. 6, as fit does
    paper = make_method("mce", dataset.spec, d_model=16, dropout=0.0, unimodal_epochs=2)
    paper.load_state_dict(code.state_dict())  # the same network, A and U_m models; only the Shapley variant differs
    paper.unimodal.requires_grad_(False)
    before = copy.deepcopy(code).train()  # the weights the step's forward sees
    batch = dataset.batch(torch.arange(64))

    # what B must be on this batch, computed apart from forward: the coalition values of Eq. 4 through the
    # method's generic subset pass, U_m of Eq. 6 summed over the batch, Eq. 7-8
    table = before.coalition_values(batch)
    counts = batch.present.sum(0).float()
    upper = before.upper_bounds(batch).sum(0)
    phi_code = code_variant_shapley(table, batch.present)
    phi_eq5 = (exact_shapley(restrict_to(table, batch.present)) * batch.present).sum(0)
    factor_b = learning_state_factor(phi_code, upper, counts)
    factor_b_eq5 = learning_state_factor(phi_eq5, upper, counts)
    # the premise that lets the test tell the variants apart: different values and a different, non-zero B
    assert (phi_code - phi_eq5).abs().max() > 1 and (factor_b - factor_b_eq5).abs().max() > 0.05
    assert (factor_b > 0).all()

    def step(method):
        params = [p for p in method.parameters() if p.requires_grad]
        return training_step(method, batch, torch.optim.Adam(params, lr=config.lr), params, config)

    terms, terms_eq5 = step(code), step(paper)  # the loss terms each step backpropagated
    assert code.last_factors["shapley"].tolist() == pytest.approx(phi_code.tolist(), abs=1e-5)
    assert code.last_factors["B"].tolist() == pytest.approx(factor_b.tolist(), abs=1e-6)
    assert paper.last_factors["B"].tolist() == pytest.approx(factor_b_eq5.tolist(), abs=1e-6)
    # Eq. 9 with the weights A_m B_m of the code's B: the very L_single of the step
    weights = before.factor_a * factor_b
    with torch.no_grad():
        features = before.features(before.encode(batch))
        single = sum(weights[m] * F.cross_entropy(head(features[batch.present[:, m], m]), batch.y[batch.present[:, m]])
                     for m, head in enumerate(before.single_heads))
    assert terms["single"] == pytest.approx(code.lambda_single * float(single), rel=1e-5)
    # Eq. 13 is weighted by A_m B_m too: the two variants' B give different L_aux (and L_single), the same rest
    assert terms["aux"] != pytest.approx(terms_eq5["aux"], rel=1e-3)
    assert terms["single"] != pytest.approx(terms_eq5["single"], rel=1e-3)
    assert terms["task"] == pytest.approx(terms_eq5["task"]) and terms["sub"] == pytest.approx(terms_eq5["sub"])
    with pytest.raises(ValueError):
        code.shapley_values(batch, table)  # no per-sample values in the code's variant


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
    """Table 7's claims judge MCE against the grid's model ``row a``, MCE's own network with every enhancement off
    (not concat's zero blocks): it builds MCE's parameters and trains with no MCE loss, and a table where MCE is
    ahead of row a but behind concat is judged on row a; each claim's direction agrees with the paper's own numbers.
    The Monte-Carlo cost claim of Table 8: fewer backbone steps than exact is supported, more contradicted."""
    import pandas as pd

    from mmlib import claims

    from mmbook.mce.grid import Chapter

    module = paper_claims("mce")
    table7 = [claim for claim in module.CLAIMS if "Table 7" in claim.section]
    assert table7
    dataset = toy(n=32)
    batch = dataset.batch(torch.arange(32))
    models = Chapter("quick").representation_models()

    def built(label):
        torch.manual_seed(0)
        return make_method(models[label].method, dataset.spec, **models[label].method_options).train()

    def rows(values):
        return pd.DataFrame([{"method": method, "seed": seed, "dataset": "iemocap", "condition": "test",
                              "metric": metric, "value": value + 0.001 * seed}
                             for seed in range(5) for (method, metric), value in values.items()])

    for claim in table7:
        ours, theirs = built(claim.method), built(claim.comparator)
        shapes = [{k: v.shape for k, v in model.state_dict().items()} for model in (ours, theirs)]
        assert shapes[0] == shapes[1]  # the same network
        assert set(ours(batch).losses) == {"sub", "single", "aux"} and theirs(batch).losses == {}
        assert claim.the_paper_effect() > 0  # the paper's MCE is better than its baseline in the claim's direction
        better = -0.1 if claim.lower_is_better else 0.1
        ahead = rows({(claim.method, claim.metric): 1.0 + better, (claim.comparator, claim.metric): 1.0,
                      ("concat", claim.metric): 1.0 + 2 * better})
        behind = rows({(claim.method, claim.metric): 1.0 - better, (claim.comparator, claim.metric): 1.0,
                       ("concat", claim.metric): 1.0 - 2 * better})
        assert claims.judge(claim, ahead).verdict.verdict == "supported", claim.id
        assert claims.judge(claim, behind).verdict.verdict == "contradicted", claim.id
    cost = module.BY_ID["mce.table8_mc_cheaper"]
    for sampled, verdict in ((0.2, "supported"), (5.0, "contradicted")):
        timings = rows({(cost.method, cost.metric): sampled, (cost.comparator, cost.metric): 1.0})
        assert claims.judge(cost, timings).verdict.verdict == verdict


def test_mce_against_mmin_is_paired_with_the_papers_mce_minus_mmin_of_table_5():
    import pandas as pd

    from mmlib import claims
    from mmbook.mce.paper_claims import BY_ID

    table5 = pd.read_csv(claims.PAPER_RESULTS / "mce_tables_3_5.csv")
    table5 = table5[(table5.table == "Table 5") & (table5.metric == "accuracy")].pivot(
        index="condition", columns="method", values="value")
    expected = (table5["MCE"] - table5["baseline (MMIN)"]).mean()
    for key, comparator in (("mce.table5_vs_mmin_code", "mmin (MCE code)"), ("mce.table5_vs_mmin", "mmin")):
        claim = BY_ID[key]
        assert claim.comparator == comparator and claim.method == "mce" and claim.datasets == ("mosi",)
        assert claim.paper_effect.effect() == pytest.approx(expected)
    # judged by the engine either way: MCE above MMIN on every seed is supported, below it contradicted
    rows = [{"method": m, "seed": s, "dataset": "mosi", "condition": c, "metric": "accuracy",
             "value": v + 0.001 * s} for s in range(5) for c in ("a", "d", "e")
            for m, v in (("mce", 0.70), ("mmin (MCE code)", 0.60))]
    up = pd.DataFrame(rows)
    down = up.assign(method=up.method.map({"mce": "mmin (MCE code)", "mmin (MCE code)": "mce"}))
    claim = BY_ID["mce.table5_vs_mmin_code"]
    assert claims.judge(claim, up).verdict.verdict == "supported"
    assert claims.judge(claim, down).verdict.verdict == "contradicted"
    assert claims.judge(BY_ID["mce.table5_vs_mmin"], up).verdict.verdict == "not tested"
