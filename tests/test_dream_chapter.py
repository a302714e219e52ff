"""The DREAM chapter's own code (notebooks/dream/grid.py): what its timings and claims tables are made of."""
import pandas as pd
import pytest

from mmbook.dream import grid
from mmlib.experiment import records


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MMLIB_QUIET", "1")
    return tmp_path / "cache"


def test_table2_times_the_backbones_training_not_a_load(cache):
    """Table 2 (issue 16, item 1): DREAM's backbone is trained inside the timing even when an earlier notebook has
    already trained the same backbone into the results cache."""
    common = grid.common_options("smoke", (0,), "cpu", None)
    table2 = grid.table2(common)
    records([table2["DREAM"]])  # the backbone is now in the cache, as after notebook 01
    assert list((cache / "models").glob("dream-backbone-*.pt"))

    timing, fits = grid.time_table2(table2, [0], "cpu")
    rows = timing.set_index("model")
    assert set(rows.index) == {*grid.BASELINES, "pre-trained (backbone)", "DREAM"}
    assert rows.loc["pre-trained (backbone)", "backbone trained"] is True
    assert rows.loc["DREAM", "train (s)"] > rows.loc["pre-trained (backbone)", "train (s)"] > 0
    assert set(fits.model) == {*grid.BASELINES, "DREAM"}


def test_table2_refuses_a_backbone_read_back(cache, monkeypatch):
    from mmlib.methods import dream

    original = dream.DREAM.prepare

    def loads_only(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.pretrained_here = False  # as if train_once had found it on disk

    monkeypatch.setattr(dream.DREAM, "prepare", loads_only)
    with pytest.raises(RuntimeError, match="read DREAM's backbone back"):
        grid.time_table2(grid.table2(grid.common_options("smoke", (0,), "cpu", None)), [0], "cpu")


def test_prepare_says_whether_it_trained_the_backbone(cache):
    from mmlib.experiment import build_method

    experiment = grid.dream("mosi", "DREAM", grid.common_options("smoke", (0,), "cpu", None))
    first, splits, config = build_method(experiment, 0)
    first.prepare(splits.train, splits.val, config)
    assert first.pretrained_here is True
    first.prepare(splits.train, splits.val, config)  # frozen now: kept as it is
    assert first.pretrained_here is False
    again, splits, config = build_method(experiment, 0)
    again.prepare(splits.train, splits.val, config)  # the same backbone, read back from the cache
    assert again.pretrained_here is False
    for mine, theirs in zip(first.backbone.state_dict().values(), again.backbone.state_dict().values()):
        assert (mine == theirs).all()


def test_rank_correlation_claim_can_come_out_either_way():
    """Q4 (issue 16, item 2): the ordering claim is judged on per-seed rank correlations against 0."""
    from mmlib import claims
    from mmbook.dream import paper_claims

    claim = grid.claim("dream.fig5_stronger_backbone")
    for values, verdict in (([1.0, 0.8, 1.0, 0.8, 1.0], "supported"), ([-1.0, -0.8, -1.0, -0.8, -0.6], "contradicted"),
                            ([1.0, -1.0, 0.2, -0.4, 0.4], "inconclusive")):
        rows = [{"model": model, "seed": seed, "dataset": "mosi", "condition": "eta = 0.6", "value": value}
                for seed, rho in enumerate(values)
                for model, value in ((paper_claims.BACKBONE_ORDER, rho), (paper_claims.NO_RELATION, 0.0))]
        table = grid.tidy(pd.DataFrame(rows), metric=paper_claims.RANK_CORRELATION)
        assert claims.judge(claim, table).verdict.verdict == verdict
