"""The verdict rule of mmlib.claims: calibrated, unmoved by repeated conditions, honest about what is missing."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmlib import claims
from mmlib.claims import Claim, PaperEffect, compare, judge

DRAWS = 2000


def simulated(effect: float, replicates: int = 5, conditions=("a", "b"), datasets=("d",), sd: float = 1.0,
              rng=None, comparators=("base",), noise: float = 0.01) -> pd.DataFrame:
    """A tidy table where ``ours - comparator`` has mean ``effect`` and standard deviation ``sd`` per replicate
    (the same in every condition of a replicate, plus a little per-condition noise)."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for dataset in datasets:
        for seed in range(replicates):
            shift = rng.normal(effect, sd)
            for condition in conditions:
                base = rng.normal(0.5, 0.1)
                rows.append((dataset, "ours", seed, "subsets", condition, "accuracy",
                             base + shift + rng.normal(0, noise)))
                for name in comparators:
                    rows.append((dataset, name, seed, "subsets", condition, "accuracy", base))
    return pd.DataFrame(rows, columns=["dataset", "method", "seed", "protocol", "condition", "metric", "value"])


def rates(effect: float, replicates: int = 5, draws: int = DRAWS, comparators=("base",), **options) -> dict:
    rng = np.random.default_rng(12345)
    outcomes = [compare(simulated(effect, replicates, rng=rng, comparators=comparators), "ours", list(comparators),
                        **options).verdict
                for _ in range(draws)]
    return {v: outcomes.count(v) / draws for v in claims.VERDICTS}


def test_a_null_effect_is_rarely_supported_or_contradicted():
    # each side of a 95% interval errs 2.5% of the time; 3.5% is three standard errors of 2,000 draws above that,
    # so a rule on a 90% interval (5% a side) fails here
    observed = rates(0.0)
    assert observed["supported"] <= 0.035
    assert observed["contradicted"] <= 0.035
    assert observed["inconclusive"] >= 0.93


def test_a_null_effect_against_several_comparators_keeps_both_error_rates():
    # the comparators' values are independent draws around ours: supported needs all of them (no correction
    # needed), contradicted any one of them (Holm keeps it at 5% or below)
    rng = np.random.default_rng(7)
    outcomes = []
    for _ in range(1000):
        table = simulated(0.0, rng=rng, comparators=("first",))
        for name in ("second", "third"):
            other = table[table.method == "first"].assign(method=name)
            other["value"] = other["value"] + np.repeat(rng.normal(0, 1, 5), 2)
            table = pd.concat([table, other])
        outcomes.append(compare(table, "ours", ["first", "second", "third"]).verdict)
    assert outcomes.count("supported") / 1000 <= 0.035
    assert outcomes.count("contradicted") / 1000 <= 0.05


def test_an_effect_of_two_standard_deviations_is_supported_at_least_80_percent_of_the_time():
    assert rates(2.0)["supported"] >= 0.80
    assert rates(-2.0)["contradicted"] >= 0.80


def test_the_minimum_detectable_effect_has_the_power_it_claims():
    # 5 replicates, sd 1: the MDE is (t_.975 + t_.80) / sqrt(5), about 1.66; an effect of that size is supported
    # in about 80% of draws (the t approximation of the noncentral t: between 70% and 90%)
    mde = claims.minimum_detectable_effect(1.0, 5)
    assert 1.5 < mde < 1.8
    assert 0.70 <= rates(mde)["supported"] <= 0.90


def test_duplicated_conditions_leave_the_interval_unchanged():
    table = simulated(0.3, conditions=("a", "b"))
    doubled = pd.concat([table, table[table.condition == "a"].assign(condition="a copy"),
                         table[table.condition == "b"].assign(condition="b copy")])
    once, twice = compare(table, "ours", "base"), compare(doubled, "ours", "base")
    assert (once.mean, once.low, once.high, once.n) == pytest.approx((twice.mean, twice.low, twice.high, twice.n))


def test_datasets_weigh_equally_whatever_their_number_of_conditions():
    rng = np.random.default_rng(3)
    many = simulated(1.0, conditions=tuple("abcdefghij"), datasets=("many",), sd=0.01, rng=rng)
    few = simulated(-1.0, conditions=("a",), datasets=("few",), sd=0.01, rng=rng)
    verdict = compare(pd.concat([many, few]), "ours", "base")
    assert verdict.mean == pytest.approx(0.0, abs=0.05)
    assert verdict.n == 5


def test_a_missing_comparator_dataset_or_condition_is_not_tested_and_says_which():
    table = simulated(1.0)
    verdict = compare(table, "ours", "absent")
    assert verdict.verdict == "not tested" and "absent" in verdict.reason
    assert compare(table, "ours", "base", datasets=["nowhere"]).verdict == "not tested"
    verdict = compare(table, "ours", "base", conditions=["a", "zz"])
    assert verdict.verdict == "not tested" and "zz" in verdict.reason


def test_several_comparators_must_each_be_beaten_and_any_one_contradicts():
    rng = np.random.default_rng(4)
    table = simulated(1.0, sd=0.1, rng=rng, comparators=("weak",))
    strong = table[table.method == "weak"].assign(method="strong")
    strong["value"] += 1.5  # ahead of ours by 0.5
    both = pd.concat([table, strong])
    assert compare(both, "ours", "weak").verdict == "supported"
    verdict = compare(both, "ours", ["weak", "strong"])
    assert verdict.verdict == "contradicted" and verdict.comparator == "strong" and verdict.tests == 2


def test_every_condition_is_judged_on_its_own():
    rng = np.random.default_rng(5)
    table = simulated(1.0, sd=0.1, conditions=("a", "b", "c"), rng=rng)
    table.loc[(table.method == "ours") & (table.condition == "c"), "value"] -= 2.0  # behind in c
    verdict = compare(table, "ours", "base", every=True)
    assert verdict.verdict == "contradicted" and verdict.condition.endswith("c")
    table = simulated(1.0, sd=0.1, conditions=("a", "b", "c"), rng=rng)
    assert compare(table, "ours", "base", every=True).verdict == "supported"


def test_on_par_within_a_margin():
    rng = np.random.default_rng(6)
    level = simulated(-0.03, sd=0.005, replicates=8, rng=rng)
    assert compare(level, "ours", "base").verdict == "contradicted"
    assert compare(level, "ours", "base", kind="on_par", margin=0.05).verdict == "supported"
    behind = simulated(-0.2, sd=0.01, replicates=8, rng=rng)
    assert compare(behind, "ours", "base", kind="on_par", margin=0.05).verdict == "contradicted"


def test_equivalent_needs_the_interval_inside_the_margin_on_both_sides():
    rng = np.random.default_rng(8)
    level = simulated(0.0, sd=0.005, replicates=8, rng=rng)
    assert compare(level, "ours", "base", kind="equivalent", margin=0.05).verdict == "supported"
    ahead = simulated(0.2, sd=0.005, replicates=8, rng=rng)
    assert compare(ahead, "ours", "base", kind="on_par", margin=0.05).verdict == "supported"
    assert compare(ahead, "ours", "base", kind="equivalent", margin=0.05).verdict == "contradicted"
    noisy = simulated(0.0, sd=0.5, replicates=5, rng=rng)
    assert compare(noisy, "ours", "base", kind="equivalent", margin=0.05).verdict == "inconclusive"


def test_floating_point_noise_is_a_tie_not_an_effect():
    rows = [("d", m, seed, "p", "c", "accuracy", v) for seed in range(5) for m, v in (("ours", 0.1 + 0.2),
                                                                                     ("base", 0.3))]
    table = pd.DataFrame(rows, columns=["dataset", "method", "seed", "protocol", "condition", "metric", "value"])
    assert compare(table, "ours", "base").verdict == "inconclusive"


def test_a_dataset_the_comparator_never_ran_is_not_tested():
    rng = np.random.default_rng(9)
    table = pd.concat([simulated(1.0, sd=0.1, datasets=("a",), rng=rng),
                       simulated(1.0, sd=0.1, datasets=("b",), rng=rng).query("method == 'ours'")])
    verdict = compare(table, "ours", "base", datasets=["a", "b"])
    assert verdict.verdict == "not tested" and "b" in verdict.reason
    # replicates that no dataset shares leave nothing to judge
    shifted = pd.concat([simulated(1.0, datasets=("a",), rng=rng),
                         simulated(1.0, datasets=("b",), rng=rng).assign(seed=lambda t: t.seed + 10)])
    assert compare(shifted, "ours", "base").verdict == "not tested"


def test_lower_is_better_flips_the_sign():
    table = simulated(-1.0, sd=0.1)  # ours has the smaller value: faster, say
    assert compare(table, "ours", "base", lower_is_better=True).verdict == "supported"
    assert compare(table, "ours", "base").verdict == "contradicted"


def test_replicates_are_training_and_mask_seed_pairs_when_masks_vary_too():
    table = simulated(1.0, replicates=3, sd=0.1)
    pairs = pd.concat([table.assign(mask_seed=0), table.assign(mask_seed=1)])
    assert compare(pairs, "ours", "base").n == 6


def test_one_replicate_gives_no_interval_and_no_verdict_either_way():
    verdict = compare(simulated(5.0, replicates=1), "ours", "base")
    assert verdict.verdict == "inconclusive" and verdict.n == 1 and math.isinf(verdict.mde)


def test_bad_input_gets_one_clear_error():
    table = simulated(1.0)
    with pytest.raises(ValueError, match="kind"):
        compare(table, "ours", "base", kind="greater")
    with pytest.raises(ValueError, match="own comparator"):
        compare(table, "ours", "ours")
    with pytest.raises(ValueError, match="repeat"):
        compare(pd.concat([table, table]), "ours", "base")
    with pytest.raises(ValueError, match="several metrics"):
        compare(pd.concat([table, table.assign(metric="f1")]), "ours", "base")


def test_holm_adjusts_step_down():
    assert claims.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_the_papers_effect_is_read_from_its_results_and_compared_with_our_interval():
    effect = PaperEffect("dream_table1.csv", method="DREAM", comparator="MSPs", where={"dataset": "MOSI"},
                         value="f1_weighted", scale=0.01, condition="paper_condition")
    rows = effect.rows()
    dream = rows[(rows.model == "DREAM")].set_index("paper_condition")["f1_weighted"]
    msps = rows[(rows.model == "MSPs")].set_index("paper_condition")["f1_weighted"]
    assert effect.effect() == pytest.approx(((dream - msps).mean()) / 100)
    claim = Claim("t.1", "TEST", "Table 1", "ours beats base", "a table", "ours", "base", metric="accuracy",
                  paper_effect=PaperEffect("dream_table1.csv", "DREAM", "MSPs", {"dataset": "MOSI"},
                                           "f1_weighted", 0.01, condition="paper_condition"))
    judged = judge(claim, simulated(effect.effect(), sd=0.001, replicates=6, noise=0.0))
    assert judged.verdict.verdict == ("supported" if effect.effect() > 0 else "contradicted")
    assert judged.paper_inside is True
    assert judge(claim, None).verdict.verdict == "not tested"


def test_a_ledger_gathers_recorded_claims_and_names_those_never_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    first = Claim("t.1", "TEST", "Table 1", "ours beats base", "a table", "ours", "base", metric="accuracy")
    second = Claim("t.2", "TEST", "Table 2", "ours beats base again", "a table", "ours", "base")
    claims.record([judge(first, simulated(1.0, sd=0.1))], "test/notebook.ipynb", "smoke")
    table = claims.ledger("smoke", [first, second])
    assert list(table["id"]) == ["t.1", "t.2"]
    assert list(table["verdict"]) == ["supported", "not tested"]
    assert list(claims.claims_table(table).columns) == claims.SHOWN


ROOT = Path(__file__).resolve().parent.parent


def test_every_claim_the_book_declares_is_well_formed():
    declared = claims.declared_in(ROOT / "notebooks")
    chapters = {path.parent.name for path in (ROOT / "notebooks").glob("*/paper_claims.py")}
    assert chapters >= {"dream", "cmpt", "mgr", "mce", "mmp"}
    for claim in declared:
        assert claim.id.split(".")[0] in chapters, f"{claim.id}: ids start with the chapter's name"
        assert (ROOT / "notebooks" / claim.notebook).exists(), f"{claim.id}: no notebook {claim.notebook}"
        assert claim.evidence and claim.section, f"{claim.id}: the paper's section and evidence"
        assert claim.method not in claim.comparators(), claim.id
        assert claim.kind == "better" or claim.margin > 0, f"{claim.id}: an on-par claim declares its margin"
        if claim.paper_effect is not None:  # the paper's numbers are read from book/paper_results
            assert math.isfinite(claim.the_paper_effect()), claim.id


def test_no_notebook_keeps_a_verdict_rule_of_its_own():
    words = ("not reproduced", "\"partly\"", "'partly'", "\"reproduced\"", "'reproduced'")
    for path in [*(ROOT / "notebooks").rglob("*.ipynb"), *(ROOT / "notebooks").rglob("*.py")]:
        if ".ipynb_checkpoints" in path.parts:
            continue
        text = path.read_text()
        assert not [w for w in words if w in text], f"{path.relative_to(ROOT)} has a verdict rule of its own"


def test_a_claim_on_under_trained_runs_says_so_and_keeps_its_verdict():
    claim = Claim("t.1", "TEST", "Table 1", "ours beats base", "a table", "ours", "base", metric="accuracy")
    table = simulated(0.5, sd=0.01, noise=0.0)
    # five runs, three of which kept the last of their 10 epochs (60% > 20%), two an earlier one
    history = pd.DataFrame({"method": "ours", "seed": range(5), "epoch": [9, 9, 9, 3, 5], "kept": True,
                            "epochs_allowed": 10, "val_score": 0.5})
    judged = judge(claim, table, history=history)
    assert judged.verdict.verdict == judge(claim, table).verdict.verdict == "supported"
    assert "under-trained at this profile: 60%" in judged.row()["detail"]
    assert "under-trained" not in judge(claim, table, history=history.assign(epoch=3)).row()["detail"]


def test_the_runs_behind_a_claim_are_its_method_and_comparators_on_its_datasets():
    claim = Claim("t.1", "TEST", "Table 1", "ours beats base", "a table", "ours", ["base", "other"], datasets=("d",))
    history = pd.DataFrame({"model": ["ours", "base", "other", "unrelated", "ours"], "dataset": ["d", "d", "d", "d", "e"],
                            "epoch": 0, "kept": True, "epochs_allowed": 1})
    assert claim.runs_behind(history, "model").model.tolist() == ["ours", "base", "other"]
