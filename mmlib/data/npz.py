"""The generic format for your own data: one ``.npz`` file, loaded with ``load_dataset("npz:PATH")``.

Keys:

- ``x_<name>``: one array per modality, N x d (vector), N x T x d (sequence) or N x C x H x W (image); the
  modality order is the order of these keys in the file (the order given to ``numpy.savez``).
- ``y``: N integer class labels 0..K-1.
- ``split`` (optional): N values, 0 train, 1 validation, 2 test. Without it: a stratified 70/10/20 split, seed 0.
- ``present`` (optional): N x M booleans, False where a modality is missing (its values are then zeroed).
  Every sample needs at least one modality.
- ``class_names`` (optional): K strings; then K = len(class_names), otherwise K = max(y) + 1.
- ``mask_<name>`` (optional, sequences): N x T booleans, True on real frames (default: all frames real).
- ``groups`` (optional): N ids (e.g. speaker), kept as ``MultimodalDataset.groups``.

Save with ``numpy.savez(path, x_audio=..., x_image=..., y=...)``; object arrays are refused (no pickles).
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from .cache import require_file, unreadable
from .core import DataError, Splits, check_arrays, make_dataset, spec_for_arrays, stratified_split

SEED = 0


def _read(path: Path) -> dict[str, np.ndarray]:
    require_file(path, "an .npz with x_<modality> arrays and y")
    errors = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, RuntimeError)
    hint = "expected an .npz archive written by numpy.savez"
    try:
        data = np.load(path, allow_pickle=False)
    except errors as error:
        raise unreadable(path, error, hint) from error
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: is a single .npy array, expected an .npz archive of named arrays")
    arrays = {}
    with data:
        for key in data.files:
            try:
                arrays[key] = data[key]
            except ValueError as error:
                if "allow_pickle" not in str(error):
                    raise unreadable(path, error, hint) from error
                raise DataError(f"{path}: array {key!r} holds Python objects (a pickle), which are refused; save "
                                f"numeric arrays (and strings for class_names or groups)") from error
            except errors as error:
                raise unreadable(path, error, hint) from error
    return arrays


def load(path: str | Path) -> Splits:
    path = Path(path).expanduser()
    source = str(path)
    data = _read(path)
    names = [key[2:] for key in data if key.startswith("x_")]
    if not names or any(not name for name in names):
        raise DataError(f"{source}: no modality arrays; expected keys named x_<modality> (found "
                        f"{', '.join(data) or 'none'})")
    if "y" not in data:
        raise DataError(f"{source}: missing key 'y' (the class labels)")
    x = {name: data[f"x_{name}"] for name in names}
    y = data["y"]
    class_names = None
    if "class_names" in data:
        class_names = np.asarray(data["class_names"])
        if class_names.ndim != 1 or class_names.dtype.kind not in "US" or class_names.size == 0:
            raise DataError(f"{source}: 'class_names' must be a 1-d array of strings")
    present = data.get("present")
    if present is not None and present.dtype != bool and not np.all(np.isin(present, (0, 1))):
        raise DataError(f"{source}: 'present' must hold booleans (or 0/1)")
    check_arrays(source, x, y, num_classes=None if class_names is None else len(class_names), present=present)
    y = np.asarray(y).astype(np.int64)
    num_classes = len(class_names) if class_names is not None else int(y.max()) + 1
    n = len(y)

    frame_mask = {}
    for key in data:
        if key.startswith("mask_"):
            name = key[5:]
            if name not in x or x[name].ndim != 3:
                raise DataError(f"{source}: {key!r} has no sequence modality 'x_{name}' (N x T x d) to go with")
            mask = data[key]
            if mask.shape != x[name].shape[:2] or (mask.dtype != bool and not np.all(np.isin(mask, (0, 1)))):
                raise DataError(f"{source}: {key!r} must be N x T booleans of shape {x[name].shape[:2]}, "
                                f"found {mask.dtype} {mask.shape}")
            frame_mask[name] = mask.astype(bool)

    groups = data.get("groups")
    if groups is not None and (groups.ndim != 1 or len(groups) != n):
        raise DataError(f"{source}: 'groups' has shape {groups.shape}, expected ({n},)")

    if present is not None:
        present = present.astype(bool)
        for i, name in enumerate(names):  # absent means zeros, whatever the file holds there
            keep = present[:, i].reshape(-1, *([1] * (x[name].ndim - 1)))
            x[name] = np.where(keep, x[name], 0)
            if name in frame_mask:
                frame_mask[name] &= present[:, i : i + 1]

    if "split" in data:
        split = data["split"]
        if split.shape != (n,) or not np.all(np.isin(split, (0, 1, 2))):
            raise DataError(f"{source}: 'split' must be {n} values in {{0 train, 1 validation, 2 test}}, "
                            f"found shape {split.shape}")
        parts = [np.flatnonzero(split == s) for s in range(3)]
        rule = "Given by the file's 'split' array (0 train, 1 validation, 2 test): "
    else:
        parts = stratified_split(y, [0.7, 0.1, 0.2], seed=SEED)
        rule = "Stratified by class, 70/10/20 train/validation/test, seed 0 (the file has no 'split' array): "
    if len(parts[0]) == 0:
        raise DataError(f"{source}: no training samples (split value 0)")
    rule += "/".join(str(len(p)) for p in parts) + f" of the {n} samples."

    spec = spec_for_arrays(
        f"npz:{path.stem}", x, num_classes,
        class_names=tuple(str(c) for c in class_names) if class_names is not None else
        tuple(str(c) for c in range(num_classes)),
        stands_in_for=f"Your own data, read from {path}.",
        split_rule=rule,
    )

    def part(index):
        return make_dataset(spec, {k: v[index] for k, v in x.items()}, y[index],
                            None if present is None else present[index],
                            {k: v[index] for k, v in frame_mask.items()},
                            None if groups is None else groups[index])

    return Splits(spec, *(part(p) for p in parts))
