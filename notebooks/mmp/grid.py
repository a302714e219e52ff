"""The MMP chapter's settings, shared by its notebooks so that each is defined once.

The three models of the paper's Table I share one backbone (the ``transformer`` baseline, 4 tokens per vector
modality) and one recipe (AdamW, as the paper); they differ only in training: "Pretrained" = complete data,
"Dropout" = modality masking at p = 0.5, "MMP" = masking + projection + Eq. 6.

| | smoke | quick (2-core CPU) | paper |
|---|---|---|---|
| backbone | d = 32, 4 tokens | d = 32, 4 tokens | d = 64, 4 tokens |
| recipe | AdamW, batch 128, lr 2e-3 | the same; mfeat 8 epochs | AdamW, batch 64, lr 1e-3 |

mfeat (6 modalities, 63 subsets) is the costliest set: at quick its models train 8 epochs, not 15.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmlib.experiment import Experiment, run_each

LABELS = {"transformer": "Pretrained", "transformer_dropout": "Dropout", "mmp": "MMP",
          "mmp_lp": "Dropout + LP", "mmp_lp_align": "Dropout + LP + Align"}
TABLE1_METHODS = ["transformer", "transformer_dropout", "mmp"]


@dataclass(frozen=True)
class Chapter:
    """The notebooks' parameters, and what they imply."""

    profile: str = "quick"
    seeds: tuple[int, ...] | None = None  # None: the profile's
    device: str = "auto"
    data_dir: str | None = None

    @property
    def model(self) -> dict:
        return dict(d_model=64 if self.profile == "paper" else 32, num_tokens=4)

    @property
    def training(self) -> dict:
        if self.profile == "paper":
            return dict(batch_size=64, lr=1e-3, optimizer="adamw", weight_decay=1e-2)
        return dict(batch_size=128, lr=2e-3, optimizer="adamw", weight_decay=1e-2)

    def experiment(self, dataset: str, method: str, protocols=("subsets",), train_protocol: str | None = None,
                   **options) -> Experiment:
        """``method`` on ``dataset`` with the chapter's backbone and recipe, scored under each test protocol."""
        epochs = {"epochs": 8} if self.profile == "quick" and dataset == "mfeat" else {}
        return Experiment(dataset, method, seeds=None if self.seeds is None else tuple(self.seeds),
                          test_protocols=tuple(protocols), train_protocol=train_protocol, profile=self.profile,
                          method_options={**self.model, **options}, train_options={**self.training, **epochs},
                          device=self.device, data_dir=self.data_dir)

    def results(self, experiments, labels=None) -> pd.DataFrame:
        """Tidy results of ``experiments``, trained side by side (once per seed, read from the cache afterwards);
        the column ``model`` holds each one's label (default: its method's, from ``LABELS``)."""
        experiments = list(experiments)
        labels = labels or [LABELS[e.method] for e in experiments]
        return pd.concat([table.assign(model=label) for table, label in zip(run_each(experiments), labels)],
                         ignore_index=True)


def mean_std(values) -> str:
    """'mean ± std' in percent over seeds."""
    values = 100 * np.asarray(values, dtype=float)
    return f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.2f}"
