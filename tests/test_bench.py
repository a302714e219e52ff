"""`python -m mmlib bench shapley` runs and prints its ratios (the numbers themselves are machine-dependent)."""
import math
import re

from mmlib.__main__ import main


def test_bench_shapley_prints_both_ratios(capsys):
    assert main(["bench", "shapley", "--repeats", "2", "--batch-size", "16"]) == 0
    out = capsys.readouterr().out
    ratios = re.findall(r"M=(\d) .* ratio ([0-9.]+)x", out)
    assert [m for m, _ in ratios] == ["3", "6"]
    assert all(math.isfinite(float(r)) and float(r) > 0.5 for _, r in ratios)
