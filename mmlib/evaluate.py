"""Evaluation of a trained method under a protocol, and the metrics the papers report."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .missing import Protocol
from .nn import pool
from .train import predict

__all__ = ["METRICS", "scores", "evaluate", "linear_probe"]

#: every metric reported for classification: accuracy, weighted F1 (DREAM, MGR), macro F1 (CMPT)
METRICS = ("accuracy", "f1_weighted", "f1_macro")


def scores(y_true: torch.Tensor | np.ndarray, logits: torch.Tensor) -> dict[str, float]:
    from sklearn.metrics import f1_score  # here: scikit-learn takes a second to import, and a rebuild never scores

    y_true = np.asarray(y_true)
    y_pred = logits.argmax(-1).cpu().numpy()
    return {
        "accuracy": float((y_pred == y_true).mean()),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def evaluate(method, dataset, protocol: Protocol, seed: int = 0, device: torch.device | str = "cpu",
             conditions: list[str] | None = None, classes: list | None = None) -> list[dict]:
    """Score ``method`` on ``dataset`` under each condition of ``protocol``: rows of
    ``protocol, condition, metric, value``. Samples left with no modality under a condition are not scored.
    A list given as ``classes`` receives, from the same predictions, a row per condition and class:
    ``protocol, condition, class, accuracy`` (the class's recall; NaN when it has no sample), ``support``."""
    rows = []
    names = dataset.spec.class_names or tuple(str(label) for label in range(dataset.spec.num_classes))
    for condition in conditions or protocol.conditions(dataset.spec):
        masked = protocol.apply(dataset, condition, seed)
        scored = masked.subset(torch.nonzero(masked.present.any(1)).squeeze(1))
        if len(scored) == 0:
            continue
        logits = predict(method, scored, device=device)
        for metric, value in scores(scored.y, logits).items():
            rows.append({"protocol": protocol.label, "condition": condition, "metric": metric, "value": value})
        if classes is not None:
            correct = (logits.argmax(-1).cpu() == scored.y).float()
            for label, name in enumerate(names):
                members = scored.y == label
                classes.append({"protocol": protocol.label, "condition": condition, "class": str(name),
                                "accuracy": float(correct[members].mean()) if members.any() else float("nan"),
                                "support": int(members.sum())})
    return rows


def linear_probe(method, train, evaluation: dict, modality: str, steps: int = 200, lr: float = 1e-2) -> dict[str, float]:
    """A modality's capability (MCE, Fig. 8-9): a new linear decoder fit, full batch, on the frozen encoder's
    pooled features of the ``train`` samples that have ``modality``; returns its accuracy from that modality
    alone on the samples of each dataset of ``evaluation`` (name -> dataset) that have it. The decoder starts at
    zero (the problem is convex), so the result depends only on the encoder."""
    encoder = method.encoders[modality]
    device = next(encoder.parameters()).device
    index = train.spec.modality_names.index(modality)
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        def features_and_labels(dataset):
            rows = dataset.present[:, index]
            frame_mask = dataset.frame_mask.get(modality)
            frame_mask = None if frame_mask is None else frame_mask[rows].to(device)
            return pool(encoder(dataset.x[modality][rows].to(device), frame_mask)), dataset.y[rows].to(device)
        train_x, train_y = features_and_labels(train)
        evaluated = {name: features_and_labels(dataset) for name, dataset in evaluation.items()}
    encoder.train(was_training)
    decoder = torch.nn.Linear(train_x.shape[1], train.spec.num_classes).to(device)
    torch.nn.init.zeros_(decoder.weight)
    torch.nn.init.zeros_(decoder.bias)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(decoder(train_x), train_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return {name: float((decoder(x).argmax(-1) == y).float().mean()) for name, (x, y) in evaluated.items()}
