"""CMU-MOSI at utterance level (binary sentiment), from the pickle of Poria et al.'s unimodal features.

The pickle holds, for the train and test videos, ``{text,audio,video}_{split}`` (videos x 63 x 50, zero-padded
per video), ``{split}_label`` (videos x 63 x 2, one-hot) and ``{split}_mask`` (videos x 63, 1 on real
utterances). The padded rows are not zeros, so the mask decides which rows are utterances.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .cache import require_file, unreadable
from .core import (DataError, DatasetSpec, ModalitySpec, Splits, check_arrays, group_split, make_dataset)

FOLDER = "cmu_mosi_utterance"
FILE = "unimodal_mosi_2way.pickle"
MODALITIES = ("text", "audio", "video")
VAL_FRACTION = 1 / 3  # of the test videos
SEED = 0


def _read(path: Path) -> dict:
    require_file(path, "the CMU-MOSI utterance pickle")
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            IndexError, KeyError, OSError) as error:
        raise unreadable(path, error, "expected a Python pickle") from error
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a dict of arrays, found {type(data).__name__}")
    return data


def _utterances(path: Path, data: dict, split: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Flatten one split to utterances: features, labels and the video id of each utterance."""
    keys = [f"{m}_{split}" for m in MODALITIES] + [f"{split}_label", f"{split}_mask"]
    for key in keys:
        if key not in data:
            raise DataError(f"{path}: missing key {key!r} (found {', '.join(sorted(map(str, data)))})")
    mask = np.asarray(data[f"{split}_mask"])
    if mask.ndim != 2:
        raise DataError(f"{path}: {split}_mask has shape {mask.shape}, expected videos x utterances")
    videos, slots = mask.shape
    for m in MODALITIES:
        shape = np.shape(data[f"{m}_{split}"])
        if len(shape) != 3 or shape[:2] != (videos, slots):
            raise DataError(f"{path}: {m}_{split} has shape {shape}, expected ({videos}, {slots}, d)")
    label = np.asarray(data[f"{split}_label"])
    if label.shape != (videos, slots, 2):
        raise DataError(f"{path}: {split}_label has shape {label.shape}, expected ({videos}, {slots}, 2)")
    if not np.all(np.isin(mask, (0, 1))):
        raise DataError(f"{path}: {split}_mask must hold 0 and 1 only")
    keep = mask.astype(bool)
    onehot = label[keep]
    if not np.all(np.isfinite(onehot)) or not np.all(np.isin(onehot, (0, 1))) or np.any(onehot.sum(1) != 1):
        raise DataError(f"{path}: {split}_label is not one-hot on the utterances that {split}_mask keeps")
    x = {m: np.asarray(data[f"{m}_{split}"], dtype=np.float32)[keep] for m in MODALITIES}
    video = np.repeat(np.array([f"{split}{v:02d}" for v in range(videos)]), keep.sum(1))
    return x, onehot.argmax(1).astype(np.int64), video


def load(folder: Path) -> Splits:
    path = Path(folder) / FILE
    data = _read(path)
    train_x, train_y, train_video = _utterances(path, data, "train")
    test_x, test_y, test_video = _utterances(path, data, "test")
    for x, y in ((train_x, train_y), (test_x, test_y)):
        check_arrays(str(path), x, y, num_classes=2)
    dims = {m: train_x[m].shape[1] for m in MODALITIES}
    if any(test_x[m].shape[1] != dims[m] for m in MODALITIES):
        raise DataError(f"{path}: train and test feature sizes differ")

    # Validation comes from held-out videos: the features of the training videos are outputs of networks fitted on
    # those videos, so a validation split carved from them scores far above test (about 0.98 against 0.79 for
    # text) and early stopping on it is blind. A third of the test videos, by video, score like the rest of test.
    keep, val = group_split(test_video, [1 - VAL_FRACTION, VAL_FRACTION], seed=SEED)
    n_train_videos, n_val_videos = len(np.unique(train_video)), len(np.unique(test_video[val]))
    n_test_videos = len(np.unique(test_video[keep]))
    spec = DatasetSpec(
        name="mosi",
        modalities=tuple(ModalitySpec(m, "vector", (dims[m],)) for m in MODALITIES),
        num_classes=2,
        class_names=("negative", "positive"),
        stands_in_for=(
            "CMU-MOSI itself (the benchmark of DREAM, MGR and MMP), at utterance level with binary sentiment. "
            "The 50-d text, audio and video features are outputs of unimodal networks trained by Poria et al., "
            "not raw GloVe/COVAREP/FACET features; text is the strong modality, audio and video are weak."),
        split_rule=(
            f"Train: the {len(train_y)} utterances of the {n_train_videos} published training videos. Validation: "
            f"{n_val_videos} of the published test videos (a third, drawn by video with group_split, seed 0; "
            f"{len(val)} utterances); test: the other {n_test_videos} test videos ({len(keep)} utterances). No video "
            "is in two splits. Why validation comes from the test videos: the features of the training videos are "
            "outputs of networks fitted on those videos, so a validation split carved from them scores far above "
            "test (about 0.98 against 0.79 for text) and early stopping on it would be blind; held-out videos score "
            "like the test videos. The test split is therefore two thirds of the published one."),
    )

    def part(x, y, video, index):
        return make_dataset(spec, {m: v[index] for m, v in x.items()}, y[index], groups=video[index])

    return Splits(spec, part(train_x, train_y, train_video, np.arange(len(train_y))),
                  part(test_x, test_y, test_video, val), part(test_x, test_y, test_video, keep))
