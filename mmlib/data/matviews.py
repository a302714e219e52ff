"""Multi-view sets stored as MATLAB cells: CUB (image + text), Scene-15, LandUse-21 and MSRC-v1.

Each file holds ``X``, a 1 x M cell with one array per view, and the labels (``gt`` or ``Y``). CUB and MSRC-v1
store every view as dim x n, Scene-15 and LandUse-21 as n x dim; the orientation and the size of every view
are checked against the table below. Labels that are 1-based in the file are mapped to 0..K-1.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from .cache import require_file, unreadable
from .core import DataError, DatasetSpec, ModalitySpec, Splits, check_arrays, make_dataset, stratified_split

SEED = 0

_COMPLETER_NAMES = ("The three views are called GIST, PHOG and LBP here following the Completer paper's description "
                    "of this set; the file itself does not name them, and the sizes alone do not identify the "
                    "descriptors, so treat the names as labels.")


@dataclass(frozen=True)
class MatSet:
    name: str
    folder: str
    file: str
    label_key: str
    views: tuple[tuple[str, int], ...]
    num_classes: int
    samples_last: bool  # True: each view is dim x n
    stands_in_for: str


SETS = {
    "cub": MatSet("cub", "cub_image_text", "cub.mat", "gt", (("image", 1024), ("text", 300)), 10, True,
                  "Image-text benchmarks (MM-IMDb and UPMC Food-101 in CMPT and MMP): 600 images of 10 CUB bird "
                  "classes as 1024-d GoogLeNet features, each with a 300-d doc2vec embedding of its text "
                  "description."),
    "scene15": MatSet("scene15", "scene15_landuse21", "Scene-15.mat", "Y",
                      (("gist", 20), ("phog", 59), ("lbp", 40)), 15, False,
                      "Larger classification with three modalities: 4,485 natural-scene images of 15 classes, "
                      "each described by three precomputed feature views. " + _COMPLETER_NAMES),
    "landuse21": MatSet("landuse21", "scene15_landuse21", "LandUse-21.mat", "Y",
                        (("gist", 20), ("phog", 59), ("lbp", 40)), 21, False,
                        "Classification with three modalities and many classes: 2,100 aerial land-use images of 21 "
                        "classes, each described by three precomputed feature views. " + _COMPLETER_NAMES),
    "msrc": MatSet("msrc", "msrc_v1", "MSRCV1.mat", "gt",
                   (("centrist", 254), ("colmoment", 24), ("gist", 512), ("lbp", 256)), 7, True,
                   "A small set with four modalities: 210 MSRC-v1 object images of 7 classes, each described by "
                   "four feature views (CENTRIST, colour moments, GIST, LBP)."),
}


def _loadmat(path: Path) -> dict:
    require_file(path, "MATLAB .mat file")
    try:
        return scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError, EOFError, IndexError, KeyError, AttributeError, RuntimeError,
            MemoryError, zlib.error, scipy.io.matlab.MatReadError) as error:
        raise unreadable(path, error, "expected a MATLAB v5 .mat file readable by scipy.io.loadmat") from error


def load(folder: Path, name: str) -> Splits:
    info = SETS[name]
    path = Path(folder) / info.file
    mat = _loadmat(path)
    for key in ("X", info.label_key):
        if key not in mat:
            found = ", ".join(k for k in mat if not k.startswith("__"))
            raise DataError(f"{path}: missing key {key!r} (found {found})")
    cells = np.asarray(mat["X"])
    if cells.dtype != object or cells.size != len(info.views):
        raise DataError(f"{path}: 'X' must be a cell of {len(info.views)} views, found {cells.dtype} {cells.shape}")
    y = np.asarray(mat[info.label_key]).ravel()
    if not np.issubdtype(y.dtype, np.number):
        raise DataError(f"{path}: labels {info.label_key!r} are not numeric (dtype {y.dtype})")
    n = y.shape[0]
    x = {}
    orientation = "dim x n" if info.samples_last else "n x dim"
    for (view, dim), value in zip(info.views, cells.ravel()):
        value = np.asarray(value)
        expected = (dim, n) if info.samples_last else (n, dim)
        if value.shape != expected or not np.issubdtype(value.dtype, np.number):
            raise DataError(f"{path}: view {view!r} has shape {value.shape} ({value.dtype}); expected {expected} "
                            f"({orientation} with n = {n} labels)")
        x[view] = (value.T if info.samples_last else value).astype(np.float32)
    if np.issubdtype(y.dtype, np.number) and n and y.min() == 1:
        y = y - 1  # 1-based labels in the file
    check_arrays(str(path), x, y, num_classes=info.num_classes)
    y = y.astype(np.int64)
    parts = stratified_split(y, [0.7, 0.1, 0.2], seed=SEED)
    spec = DatasetSpec(
        name=name,
        modalities=tuple(ModalitySpec(view, "vector", (dim,)) for view, dim in info.views),
        num_classes=info.num_classes,
        class_names=tuple(str(c) for c in range(info.num_classes)),
        stands_in_for=info.stands_in_for,
        split_rule=(f"Stratified by class, 70/10/20 train/validation/test, seed 0: {len(parts[0])}/{len(parts[1])}/"
                    f"{len(parts[2])} of the {n} samples."),
    )
    return Splits(spec, *(make_dataset(spec, {k: v[p] for k, v in x.items()}, y[p]) for p in parts))
