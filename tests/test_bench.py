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


def test_bench_training_prints_both_ratios(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))  # the bench uses a private cache and leaves this one alone
    assert main(["bench", "training", "--profile", "smoke", "--datasets", "mosi", "--methods", "concat", "dream"]) == 0
    out = capsys.readouterr().out
    step = re.search(r"fit step / bare PyTorch step: ([0-9.]+)x", out)
    outside = re.search(r"share of the runs outside optimisation steps: (\d+)%", out)
    assert step and outside, out
    assert 0.2 < float(step.group(1)) < 5 and 0 < int(outside.group(1)) < 100
    assert len(re.findall(r"^  mosi +(concat|dream) ", out, flags=re.M)) == 2
    assert not any(tmp_path.iterdir())
