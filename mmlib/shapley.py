"""Shapley values of modalities.

A game over M modalities is a table of values, one per subset. Subsets are indexed by bitmask: row ``k`` of
:func:`subsets` is the subset whose members are the set bits of ``k`` (bit ``i`` = modality ``i``), so the
empty set is row 0 and the full set row ``2^M - 1``.

Exact Shapley values are linear in the table, so for a batch of games (``B x 2^M`` values, e.g. one game per
sample) they are a single matrix product with a fixed ``2^M x M`` weight matrix (:func:`shapley_weights`).
At M = 6 that matrix is 64 x 6: exact values are cheap once the table is there, and the table itself is one
batched pass of the fusion head over the 2^M subsets (``mmlib.methods`` models expose ``subset_logits``).

Some scores weight marginal contributions that are not differences of one value function, e.g. DREAM's
Prediction Shift Score (Eq. 1-2), whose marginal is the indicator that adding player i changes the prediction:
:func:`shapley_of_marginals` takes the same table (here of predictions) and the marginal as a function of the
table's entries at S u {i} and at S, and ``monte_carlo_shapley(..., marginal=...)`` estimates the same sum.
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations
from typing import Callable, Sequence

import torch

__all__ = ["subsets", "subset_labels", "subset_index", "shapley_weights", "exact_shapley", "restrict_to",
           "marginal_pairs", "shapley_of_marginals", "monte_carlo_shapley", "brute_force_shapley"]


@lru_cache(maxsize=None)
def _subsets(num_players: int) -> torch.Tensor:
    rows = torch.arange(2 ** num_players).unsqueeze(1)
    bits = 2 ** torch.arange(num_players).unsqueeze(0)
    return (rows & bits) > 0


def subsets(num_players: int) -> torch.Tensor:
    """All subsets of ``num_players`` players as a (2^M x M) bool tensor; row k holds the set bits of k."""
    if num_players < 1:
        raise ValueError(f"need at least one player, got {num_players}")
    return _subsets(num_players).clone()


def subset_index(members: torch.Tensor) -> torch.Tensor:
    """Row index in :func:`subsets` of each subset in ``members`` (..., M) bool."""
    bits = 2 ** torch.arange(members.shape[-1], device=members.device)
    return (members.long() * bits).sum(-1)


def subset_labels(names: Sequence[str], nonempty: bool = True) -> list[str]:
    """Labels of the subsets in bitmask order, names joined by '+' in ``names`` order (``text+audio``)."""
    rows = _subsets(len(names))
    labels = ["+".join(n for n, keep in zip(names, row) if keep) for row in rows.tolist()]
    return labels[1:] if nonempty else labels


@lru_cache(maxsize=None)
def _weights(num_players: int) -> torch.Tensor:
    members = _subsets(num_players)
    size = members.sum(1, keepdim=True).double()  # |S| per row
    fact = lambda n: torch.exp(torch.lgamma(n + 1))  # noqa: E731
    total = math.factorial(num_players)
    # phi_i = sum_{S not containing i} |S|!(M-|S|-1)!/M! [v(S u {i}) - v(S)]; collect the coefficient of each v(T):
    # +(|T|-1)!(M-|T|)!/M! when i is in T, and -|T|!(M-|T|-1)!/M! when it is not.
    with_i = fact(size - 1) * fact(num_players - size) / total
    without_i = -fact(size) * fact(num_players - size - 1) / total
    return torch.where(members, with_i, without_i)


def shapley_weights(num_players: int) -> torch.Tensor:
    """The (2^M x M) matrix W with ``shapley = values @ W`` (float64)."""
    return _weights(num_players).clone()


def _num_players(table_size: int) -> int:
    num_players = table_size.bit_length() - 1
    if num_players < 1 or 2 ** num_players != table_size:
        raise ValueError(f"a value table needs 2^M entries on its last axis, got {table_size}")
    return num_players


def exact_shapley(values: torch.Tensor) -> torch.Tensor:
    """Exact Shapley values (..., M) from subset values (..., 2^M) in :func:`subsets` row order."""
    weights = _weights(_num_players(values.shape[-1])).to(device=values.device)
    if values.dtype != torch.float64:
        weights = weights.to(values.dtype if values.is_floating_point() else torch.float32)
        values = values.to(weights.dtype)
    return values @ weights


def restrict_to(values: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    """The game restricted to the ``available`` players: v'(S) = v(S ∩ available).

    Players outside ``available`` become null players (value 0) and the others get exactly their Shapley values
    in the sub-game over ``available`` alone: this is how MCE's Eq. 5, a sum over subsets of each sample's own
    available modalities, runs through one batched :func:`exact_shapley`. ``values`` (..., 2^M), ``available``
    (..., M) bool."""
    rows = torch.arange(values.shape[-1], device=values.device)
    index = rows & subset_index(available).unsqueeze(-1)
    return torch.gather(values, -1, index.expand_as(values))


@lru_cache(maxsize=None)
def _pairs(num_players: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows = torch.arange(2 ** num_players).unsqueeze(1)
    bits = 2 ** torch.arange(num_players).unsqueeze(0)
    # column i: the 2^(M-1) subsets S without player i, in increasing bitmask order
    without = torch.stack([rows[(rows & bit) == 0] for bit in bits[0]], 1)
    size = torch.stack([_subsets(num_players)[without[:, i]].sum(1) for i in range(num_players)], 1).double()
    fact = lambda n: torch.exp(torch.lgamma(n + 1))  # noqa: E731
    weight = fact(size) * fact(num_players - size - 1) / math.factorial(num_players)
    return without, without | bits, weight


def marginal_pairs(num_players: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pairs (S, S u {i}) that Shapley values weigh: three (2^(M-1) x M) tensors ``without``, ``with_``
    (row indices in :func:`subsets` order of S and of S u {i}, for the subsets S that lack player i) and
    ``weight`` = |S|! (M - |S| - 1)! / M! (float64; each column sums to 1)."""
    without, with_, weight = _pairs(num_players)
    return without.clone(), with_.clone(), weight.clone()


def shapley_of_marginals(table: torch.Tensor, marginal: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                         ) -> torch.Tensor:
    """Shapley-weighted sum of marginal contributions (..., M) from a table (..., 2^M) in :func:`subsets` order:
    ``phi_i = sum_{S not containing i} |S|!(M-|S|-1)!/M! * marginal(table[S u {i}], table[S])``.

    With ``marginal = lambda a, b: a - b`` this is :func:`exact_shapley`. DREAM's PSS (Eq. 1-2) passes a table of
    predicted classes and ``marginal = lambda a, b: (a != b)``: a modality's PSS is 0 exactly when adding it to no
    subset changes the prediction."""
    without, with_, weight = _pairs(_num_players(table.shape[-1]))
    without, with_ = without.to(table.device), with_.to(table.device)
    contributions = marginal(table[..., with_], table[..., without])  # (..., 2^(M-1), M)
    if not contributions.is_floating_point():
        contributions = contributions.float()
    weight = weight.to(device=table.device, dtype=contributions.dtype)
    return (contributions * weight).sum(-2)


def monte_carlo_shapley(value_fn: Callable[[torch.Tensor], torch.Tensor], num_players: int, num_permutations: int,
                        generator: torch.Generator | None = None,
                        marginal: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Permutation-sampling estimate of Shapley values.

    ``value_fn`` maps a (K x M) bool tensor of subsets to their values (..., K); it is called once, on the
    prefixes of ``num_permutations`` random orders (duplicates removed). Returns (..., M). ``marginal(after,
    before)`` replaces the difference ``after - before`` of each step (an estimate of
    :func:`shapley_of_marginals`; DREAM's PSS passes predictions and ``after != before``)."""
    if num_permutations < 1:
        raise ValueError(f"num_permutations must be positive, got {num_permutations}")
    orders = torch.stack([torch.randperm(num_players, generator=generator) for _ in range(num_permutations)])
    # prefix masks: for order o and step t, the first t players of o (t = 0..M)
    rank = torch.empty_like(orders)
    rank.scatter_(1, orders, torch.arange(num_players).expand_as(orders))
    steps = torch.arange(num_players + 1).view(1, -1, 1)
    prefixes = rank.unsqueeze(1) < steps  # P x (M+1) x M
    index = subset_index(prefixes)  # P x (M+1)
    unique, inverse = torch.unique(index, return_inverse=True)
    values = value_fn(_subsets(num_players)[unique])  # (..., U)
    path = values[..., inverse]  # (..., P, M+1)
    if marginal is None:
        gains = path[..., 1:] - path[..., :-1]  # gain of the t-th player of each order
    else:
        gains = marginal(path[..., 1:], path[..., :-1])
        gains = gains if gains.is_floating_point() else gains.float()
    estimate = torch.zeros(*gains.shape[:-2], num_players, dtype=gains.dtype, device=gains.device)
    player = orders.to(gains.device).expand(*gains.shape[:-2], *orders.shape)
    estimate.scatter_add_(-1, player.flatten(-2), gains.flatten(-2))
    return estimate / num_permutations


def brute_force_shapley(value: Callable[[frozenset], float], num_players: int) -> list[float]:
    """Shapley values by the textbook formula, one subset at a time: slow, for checking the others."""
    players = range(num_players)
    result = []
    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for size in range(num_players):
            weight = math.factorial(size) * math.factorial(num_players - size - 1) / math.factorial(num_players)
            for combo in combinations(others, size):
                total += weight * (value(frozenset(combo) | {i}) - value(frozenset(combo)))
        result.append(total)
    return result

