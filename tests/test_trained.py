"""Sub-models trained once and kept (mmlib.trained): the same weights as training again, the caller's random
stream untouched, and a new training whenever what determines it changes."""
import numpy as np
import pytest
import torch
from torch import nn

from mmlib.trained import fingerprint, train_once


def make():
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def training(module, calls):
    def train():
        calls.append(1)
        optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
        for _ in range(5):
            loss = module(torch.randn(8, 4)).pow(2).mean()  # draws from the global stream, like dropout
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return train


def test_train_once_trains_then_reads_the_same_weights_without_touching_the_random_stream(monkeypatch, tmp_path):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    calls, states, streams = [], [], []
    for _ in range(2):
        module = make()
        initial = {k: v.clone() for k, v in module.state_dict().items()}
        torch.manual_seed(1)
        trained = train_once(module, "toy", ("data", 5), training(module, calls))
        streams.append(torch.rand(3))  # what the caller draws next
        states.append(module.state_dict())
    assert calls == [1] and len(list(tmp_path.glob("models/toy-*.pt"))) == 1
    assert not trained
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert any(not torch.equal(states[0][k], initial[k]) for k in initial)
    torch.manual_seed(1)
    assert torch.equal(streams[0], torch.rand(3)) and torch.equal(streams[1], streams[0])


def test_a_change_in_what_determines_the_training_trains_again(monkeypatch, tmp_path):
    monkeypatch.setenv("MMLIB_CACHE", str(tmp_path))
    calls = []
    for determined_by in (("data", 5), ("data", 6), (torch.zeros(3),), (torch.ones(3),)):
        module = make()
        train_once(module, "toy", determined_by, training(module, calls))
    other_start = nn.Linear(4, 2)  # other initial weights
    train_once(other_start, "toy", ("data", 5), training(other_start, calls))
    assert len(calls) == 5


def test_fingerprint_reads_tensor_values_and_structure():
    assert fingerprint(torch.zeros(3)) != fingerprint(torch.zeros(4))
    assert fingerprint({"a": torch.ones(2)}) != fingerprint({"b": torch.ones(2)})
    assert fingerprint((1, 2), None) == fingerprint((1, 2), None)
    changed = np.zeros(5000)
    changed[2500] = 1.0  # a value numpy's repr would elide
    assert fingerprint(np.zeros(5000)) != fingerprint(changed)
    assert fingerprint(np.zeros(5000)) == fingerprint(np.zeros(5000))


def test_compute_once_computes_once_and_keys_on_what_determines_it():
    from mmlib.trained import compute_once

    calls = []

    def compute():
        calls.append(1)
        return {"value": torch.rand(1).item()}

    first = compute_once("test-value", ("a", 1), compute)
    assert compute_once("test-value", ("a", 1), compute) == first and len(calls) == 1
    compute_once("test-value", ("a", 2), compute)
    assert len(calls) == 2


def test_no_training_flag_stops_fit(monkeypatch):
    from mmlib.data import load_dataset
    from mmlib.methods import make_method
    from mmlib.train import TrainConfig, fit

    splits = load_dataset("msrc")
    monkeypatch.setenv("MMLIB_NO_TRAINING", "1")
    with pytest.raises(RuntimeError, match="MMLIB_NO_TRAINING"):
        fit(make_method("concat", splits.spec), splits.train, None, TrainConfig(epochs=1, progress=False))


def test_two_processes_asking_for_one_value_compute_it_once(tmp_path):
    """Two notebooks built side by side that need one kept value: the second waits for the first, then reads."""
    import os
    import subprocess
    import sys

    script = (
        "import time\n"
        "from mmlib.trained import compute_once\n"
        "def compute():\n"
        f"    with open({str(tmp_path / 'calls')!r}, 'a') as handle: handle.write('x')\n"
        "    time.sleep(3.0)\n"
        "    return 42\n"
        "print(compute_once('shared', ('same',), compute))\n"
    )
    env = {**os.environ, "MMLIB_CACHE": str(tmp_path / "cache")}
    processes = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0].strip() for process in processes]
    assert outputs == ["42", "42"]
    assert (tmp_path / "calls").read_text() == "x"
