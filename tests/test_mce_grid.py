"""The MCE chapter's grid helpers that compute what its pages state: B with a held-out U_m (issue 17, item 3), the
FLOPs and peak memory of a step (Table 8), and what the main tables run at each profile (Tables 3-4)."""

import itertools

import pandas as pd
import pytest
import torch

from mmbook.mce.grid import Chapter, held_out_factor, step_cost


def test_held_out_factor_replaces_u_by_count_times_held_out_accuracy():
    log = pd.DataFrame({"seed": [0, 0, 1], "epoch": 0, "step": 0, "modality": ["text", "video", "text"],
                        "count": [10.0, 4.0, 10.0], "upper": [10.0, 4.0, 9.0], "shapley": [6.0, 3.5, 6.0],
                        "gap": [4.0, 0.5, 3.0], "B": [0.4, 0.125, 0.3]})
    accuracy = pd.DataFrame({"seed": [0, 0, 1, 0, 0, 1], "modality": ["text", "video", "text"] * 2,
                             "split": ["training (seen)"] * 3 + ["validation (held out)"] * 3,
                             "accuracy": [1.0, 1.0, 0.9, 0.7, 0.5, 0.5]})
    held = held_out_factor(log, accuracy)
    # U = 10 x 0.7 = 7, 4 x 0.5 = 2 (below phi = 3.5: masked), 10 x 0.5 = 5 (seed 1's own model)
    assert held.upper.tolist() == pytest.approx([7.0, 2.0, 5.0])
    assert held.B.tolist() == pytest.approx([0.1, 0.0, 0.0])
    assert held.gap.tolist() == pytest.approx([1.0, -1.5, -1.0])
    assert log.B.tolist() == [0.4, 0.125, 0.3]  # the recorded factor is left as it was


def test_step_cost_counts_the_flops_of_a_product_forward_and_backward():
    x = torch.randn(256, 512)
    w = torch.randn(512, 512, requires_grad=True)

    def step():
        w.grad = None
        (x @ w).sum().backward()

    cost = step_cost(step)
    # forward x @ w and backward x^T @ grad: 2 x (2 x 256 x 512 x 512) FLOPs
    assert cost["GFLOPs"] == pytest.approx(2 * 2 * 256 * 512 * 512 / 1e9)
    # at least the 256 x 512 float output, and less than the whole of the inputs and outputs many times over
    assert 0.5 <= cost["peak memory (MB)"] < 20


def test_the_run_plan_is_the_grid():
    """The run plan (notebook 01's table, glued into the page) against what :meth:`Chapter.main_jobs` trains, dataset
    by dataset: its settings, methods, seeds and runs; each setting's label names the rates the runs train under
    (an ordering a-f of the paper's Sec. 4.4 over the dataset's modality groups, or AudiovisionMNIST's audio rate); and
    the orderings have the property the grid's docstring gives them: a Latin square at quick (each modality takes
    each rate once), all six permutations at paper."""
    from mmbook.mce.grid import GROUPS, IMAGE_ONLY, ORDERINGS

    def rates(protocol):
        kind, _, spec = protocol.partition(":")
        assert kind == "rates"
        return {name: float(rate) for name, rate in (part.split("=") for part in spec.split(","))}

    for profile in ("smoke", "quick", "paper"):
        chapter = Chapter(profile)
        plan = chapter.run_plan().set_index("dataset")
        jobs = [(setting, label, experiment) for setting, label, experiment in chapter.main_jobs()
                if setting != IMAGE_ONLY]
        assert list(plan.index) == list(dict.fromkeys(experiment.dataset for *_, experiment in jobs))
        for dataset, row in plan.iterrows():
            here = [job for job in jobs if job[2].dataset == dataset]
            assert row.settings == ", ".join(dict.fromkeys(setting for setting, *_ in here))
            assert row.methods == ", ".join(dict.fromkeys(label for _, label, _ in here))
            assert row.runs == sum(len(experiment.seed_list()) for *_, experiment in here)
            assert {row.seeds} == {len(experiment.seed_list()) for *_, experiment in here}
        orderings = {}
        for setting, _, experiment in jobs:
            trained_at = rates(experiment.train_protocol)
            if setting.startswith("audio "):
                assert trained_at == {"audio": float(setting.split()[1])}
                continue
            groups = GROUPS.get(experiment.dataset, ("audio", "text", "video"))
            by_group = [{trained_at[name] for name in ((g,) if isinstance(g, str) else g)} for g in groups]
            assert by_group == [{rate} for rate in ORDERINGS[setting]], (profile, experiment.dataset, setting)
            assert set(trained_at) == {n for g in groups for n in ((g,) if isinstance(g, str) else g)}
            if experiment.dataset == "mosi":
                orderings[setting] = tuple(trained_at[name] for name in ("audio", "text", "video"))
        assert "a" in orderings  # the paper's setting of Tables 2, 6-8 and Fig. 9 at every profile
        levels = sorted(set(ORDERINGS["a"]))
        if profile == "quick":
            assert len(orderings) == len(levels) and all(
                sorted(rates_of[m] for rates_of in orderings.values()) == levels for m in range(len(levels)))
        if profile == "paper":
            assert set(orderings.values()) == set(itertools.permutations(levels))


def test_mmin_forms_run_where_declared_and_pass_the_epoch_budget_check():
    from mmlib.experiment import check_budgets
    from mmlib.methods.mmin import MCE_CODE

    from mmbook.mce.grid import MMIN_FORMS

    for profile in ("smoke", "quick", "paper"):
        jobs = Chapter(profile).main_jobs()
        check_budgets(experiment for *_, experiment in jobs)
        for setting, label, experiment in jobs:
            if label in MMIN_FORMS:
                assert experiment.method == "mmin"
                assert {k: experiment.method_options.get(k) for k in MCE_CODE} == (
                    MCE_CODE if label == "mmin (MCE code)" else {k: None for k in MCE_CODE})
        on = {(experiment.dataset, setting) for setting, label, experiment in jobs if label == "mmin (MCE code)"}
        mce = {(experiment.dataset, setting) for setting, label, experiment in jobs if label == "mce"}
        own = {(experiment.dataset, setting) for setting, label, experiment in jobs if label == "mmin"}
        if profile == "paper":  # both forms wherever MCE runs
            assert on == mce and own == mce
        else:  # the authors' form on every MOSI setting MCE runs, nowhere else; MMIN's own form at paper only
            assert on == {key for key in mce if key[0] == "mosi"} and on and not own


def test_sweep_values_outside_the_stable_range_run_on_the_selection_seeds_below_paper():
    from mmbook.mce.grid import STABLE_RANGE

    quick, paper = Chapter("quick"), Chapter("paper")
    assert quick.sweep_seeds(0.001) == quick.selection_seeds != quick.seed_list()
    assert quick.sweep_seeds(0.1) == quick.sweep_seeds(5) == quick.seed_list()
    # at quick the sweep holds exactly the claim's range's values other than the defaults, on every seed
    points, _, experiments = quick.sweep_jobs()
    assert all(STABLE_RANGE[0] <= value <= STABLE_RANGE[1] for _, _, value in points)
    assert all(experiment.seed_list() == quick.seed_list() for experiment in experiments)
    points, _, experiments = paper.sweep_jobs()
    assert all(experiment.seed_list() == paper.seed_list() for experiment in experiments)
