"""A toy dataset the method tests share: three vector modalities, each carrying the class weakly."""
import numpy as np

from mmlib.data.core import spec_for_arrays


def weak_signal(n=240, seed=0, names=("text", "audio", "video")):
    """(spec, arrays, y, rng): each modality holds a scaled one-hot of the class plus noise, so every modality
    alone beats chance and together they do better."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    signal = np.eye(3)[y] * 1.5
    arrays = {name: np.concatenate([signal, rng.normal(size=(n, 5))], 1) + rng.normal(size=(n, 8)) for name in names}
    return spec_for_arrays("toy", arrays, 3), arrays, y, rng
