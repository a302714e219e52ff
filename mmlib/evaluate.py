"""Evaluation of a trained method under a protocol, and the metrics the papers report."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import f1_score

from .missing import Protocol
from .train import predict

__all__ = ["METRICS", "scores", "evaluate"]

#: every metric reported for classification: accuracy, weighted F1 (DREAM, MGR), macro F1 (CMPT)
METRICS = ("accuracy", "f1_weighted", "f1_macro")


def scores(y_true: torch.Tensor | np.ndarray, logits: torch.Tensor) -> dict[str, float]:
    y_true = np.asarray(y_true)
    y_pred = logits.argmax(-1).cpu().numpy()
    return {
        "accuracy": float((y_pred == y_true).mean()),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def evaluate(method, dataset, protocol: Protocol, seed: int = 0, device: torch.device | str = "cpu",
             conditions: list[str] | None = None) -> list[dict]:
    """Score ``method`` on ``dataset`` under each condition of ``protocol``: rows of
    ``protocol, condition, metric, value``. Samples left with no modality under a condition are not scored."""
    rows = []
    for condition in conditions or protocol.conditions(dataset.spec):
        masked = protocol.apply(dataset, condition, seed)
        scored = masked.subset(torch.nonzero(masked.present.any(1)).squeeze(1))
        if len(scored) == 0:
            continue
        logits = predict(method, scored, device=device)
        for metric, value in scores(scored.y, logits).items():
            rows.append({"protocol": protocol.label, "condition": condition, "metric": metric, "value": value})
    return rows
