"""Shapley values: subset order, the axioms, agreement with brute force, Monte-Carlo convergence."""
import itertools
import math

import pytest
import torch

from mmlib.shapley import (brute_force_shapley, exact_shapley, marginal_pairs, monte_carlo_shapley, restrict_to,
                           shapley_of_marginals, shapley_weights, subset_index, subset_labels, subsets)


def random_games(batch, num_players, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2 ** num_players, generator=generator, dtype=torch.float64)


def test_subsets_rows_are_bitmasks():
    table = subsets(3)
    assert table.shape == (8, 3) and table.dtype == torch.bool
    assert table[0].tolist() == [False, False, False]
    assert table[5].tolist() == [True, False, True]  # 5 = 0b101: players 0 and 2
    assert table[7].all()
    assert subset_index(table).tolist() == list(range(8))
    assert subset_labels(["text", "audio", "video"])[:3] == ["text", "audio", "text+audio"]


@pytest.mark.parametrize("num_players", [1, 2, 3, 4, 5, 6])
def test_exact_equals_brute_force(num_players):
    values = random_games(3, num_players, seed=num_players)
    exact = exact_shapley(values)
    for row in range(values.shape[0]):
        game = lambda members: values[row, sum(2 ** p for p in members)].item()  # noqa: E731
        expected = brute_force_shapley(game, num_players)
        assert torch.allclose(exact[row], torch.tensor(expected, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("num_players", [2, 3, 6])
def test_efficiency(num_players):
    values = random_games(5, num_players)
    assert torch.allclose(exact_shapley(values).sum(-1), values[:, -1] - values[:, 0], atol=1e-12)


def test_symmetry():
    # v depends only on |S| for players 0 and 1 swapped: a game symmetric in players 0 and 1
    table = subsets(4)
    weights = torch.tensor([2.0, 2.0, -1.0, 0.5], dtype=torch.float64)
    values = (table.double() @ weights) ** 2
    phi = exact_shapley(values)
    assert torch.isclose(phi[0], phi[1])
    assert not torch.isclose(phi[0], phi[2])


def test_null_player_gets_zero():
    table = subsets(4)
    values = torch.exp(table[:, [0, 1, 3]].double() @ torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64))
    phi = exact_shapley(values)  # player 2 never changes the value
    assert abs(phi[2].item()) < 1e-12
    assert phi.abs()[[0, 1, 3]].min() > 1e-3


def test_weights_columns_sum_to_zero_and_batch_shapes():
    for num_players in range(1, 7):
        weights = shapley_weights(num_players)
        assert weights.shape == (2 ** num_players, num_players)
        assert torch.allclose(weights.sum(0), torch.zeros(num_players, dtype=torch.float64), atol=1e-12)
    assert exact_shapley(torch.zeros(2, 5, 8)).shape == (2, 5, 3)


def test_bad_table_size_is_a_clear_error():
    with pytest.raises(ValueError, match="2\\^M"):
        exact_shapley(torch.zeros(4, 6))


def test_restriction_matches_the_subgame():
    num_players = 4
    values = random_games(1, num_players)[0]
    available = torch.tensor([True, False, True, True])
    restricted = exact_shapley(restrict_to(values, available))
    assert abs(restricted[1].item()) < 1e-12
    # the sub-game over players 0, 2, 3 alone, by brute force
    players = [0, 2, 3]
    game = lambda members: values[sum(2 ** players[p] for p in members)].item()  # noqa: E731
    expected = brute_force_shapley(game, 3)
    assert torch.allclose(restricted[players], torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_monte_carlo_error_shrinks_with_more_permutations():
    num_players = 6
    values = random_games(4, num_players, seed=3)
    exact = exact_shapley(values)
    value_fn = lambda members: values[:, subset_index(members)]  # noqa: E731
    errors = []
    for permutations in (10, 100, 3000):
        runs = [monte_carlo_shapley(value_fn, num_players, permutations, torch.Generator().manual_seed(s))
                for s in range(5)]
        errors.append(torch.stack([(r - exact).abs().mean() for r in runs]).mean().item())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05
    # every permutation sample satisfies efficiency exactly
    assert torch.allclose(runs[0].sum(-1), values[:, -1] - values[:, 0], atol=1e-9)


def test_monte_carlo_with_all_permutations_is_exact_in_expectation():
    num_players = 3
    values = random_games(2, num_players)
    orders = list(itertools.permutations(range(num_players)))
    estimate = monte_carlo_shapley(lambda m: values[:, subset_index(m)], num_players, 20000,
                                   torch.Generator().manual_seed(0))
    assert len(orders) == 6
    assert torch.allclose(estimate, exact_shapley(values), atol=0.05)


@pytest.mark.parametrize("num_players", [1, 2, 3, 6])
def test_marginal_pairs_and_shapley_of_differences_is_exact_shapley(num_players):
    without, with_, weight = marginal_pairs(num_players)
    assert without.shape == with_.shape == weight.shape == (2 ** (num_players - 1), num_players)
    table = subsets(num_players)
    for i in range(num_players):
        assert not table[without[:, i], i].any() and table[with_[:, i], i].all()
    assert torch.allclose(weight.sum(0), torch.ones(num_players, dtype=torch.float64))
    values = random_games(4, num_players, seed=num_players)
    assert torch.allclose(shapley_of_marginals(values, lambda a, b: a - b), exact_shapley(values), atol=1e-12)


def test_shapley_of_indicator_marginals_matches_brute_force():
    """DREAM's PSS: the Shapley-weighted share of subsets to which adding a player changes the prediction."""
    num_players = 4
    generator = torch.Generator().manual_seed(0)
    predictions = torch.randint(0, 3, (5, 2 ** num_players), generator=generator)
    without_player_2 = torch.arange(16)[torch.arange(16) & 0b0100 == 0]
    predictions[:, without_player_2 | 0b0100] = predictions[:, without_player_2]
    pss = shapley_of_marginals(predictions, lambda a, b: a != b)
    for row in range(5):
        for i in range(num_players):
            others = [p for p in range(num_players) if p != i]
            expected = 0.0
            for size in range(num_players):
                weight = math.factorial(size) * math.factorial(num_players - size - 1) / math.factorial(num_players)
                for combo in itertools.combinations(others, size):
                    before = sum(2 ** p for p in combo)
                    expected += weight * float(predictions[row, before | 2 ** i] != predictions[row, before])
            assert abs(pss[row, i].item() - expected) < 1e-6
    assert (pss[:, 2] == 0).all()  # player 2 never changes a prediction: a null player gets exactly 0
    estimate = monte_carlo_shapley(lambda m: predictions[:, subset_index(m)], num_players, 4000,
                                   torch.Generator().manual_seed(1), marginal=lambda a, b: a != b)
    assert torch.allclose(estimate, pss, atol=0.05)
