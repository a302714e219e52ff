"""The face every method shares.

A method is an ``nn.Module`` built from a :class:`~mmlib.data.DatasetSpec`. It takes a
:class:`~mmlib.data.Batch` and returns a :class:`MethodOutput`: logits, its own loss terms by name (already
weighted; the training loop adds the task loss and logs each term), and the fused representation.

Methods split into ``encode`` (per-modality tokens) and ``fuse`` (tokens + which modalities are present ->
logits), which gives every method the fast path to subset values that Shapley needs: encode once, fuse all
2^M subsets in one batched pass (:meth:`MultimodalMethod.subset_logits`).
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.core import Batch, DatasetSpec
from ..missing import ModalityDropout
from ..nn import make_encoder
from ..shapley import subsets
from ..train import TrainConfig


@dataclass
class MethodOutput:
    logits: torch.Tensor
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    features: torch.Tensor | None = None
    tokens: dict[str, torch.Tensor] | None = None  # the encoders' outputs, for reuse (e.g. by subset_logits)


class MultimodalMethod(nn.Module, metaclass=ABCMeta):
    """Base class: one encoder per modality (chosen by kind) and a fusion defined by the subclass."""

    name = "base"
    #: the training recipe the method's paper uses (profiles shorten it; see ``mmlib.experiment``)
    recipe = TrainConfig()
    #: training-time modality masking applied by the training loop before ``forward``; ``None`` for none
    train_dropout: ModalityDropout | None = None

    def __init__(self, spec: DatasetSpec, d_model: int = 64, num_tokens: int | None = None, dropout: float = 0.1):
        super().__init__()
        self.spec = spec
        self.d_model = d_model
        self.encoders = nn.ModuleDict({m.name: make_encoder(m, d_model, num_tokens, dropout) for m in spec.modalities})

    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {name: encoder(batch.x[name], batch.frame_mask.get(name)) for name, encoder in self.encoders.items()}

    @abstractmethod
    def fuse(self, tokens: dict[str, torch.Tensor], present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B x C) and fused features (B x d) from per-modality tokens and presence (B x M)."""

    def forward(self, batch: Batch) -> MethodOutput:
        tokens = self.encode(batch)
        logits, features = self.fuse(tokens, batch.present)
        return MethodOutput(logits, {}, features, tokens)

    def prepare(self, train, val, config: TrainConfig) -> None:
        """Work a method does once before its training loop (pre-training, dataset statistics). Default: none."""

    @torch.no_grad()
    def subset_logits(self, batch: Batch, members: torch.Tensor | None = None,
                      tokens: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Logits of every sample under every subset in ``members`` (K x M bool; default: all 2^M subsets in
        :func:`mmlib.shapley.subsets` order), in one batched fusion pass: B x K x C. A subset only removes
        modalities: a sample's absent modalities stay absent. ``tokens`` reuses an ``encode(batch)`` already done.

        Exact for methods whose ``fuse`` ignores the tokens of absent modalities (the baselines). A method that
        reads the zero-filled inputs of absent modalities instead (DREAM) must override this."""
        members = subsets(self.spec.num_modalities) if members is None else members
        tokens = self.encode(batch) if tokens is None else tokens
        num_subsets = members.shape[0]
        present = (batch.present.unsqueeze(1) & members.to(batch.present.device).unsqueeze(0)).flatten(0, 1)
        repeated = {name: value.detach().repeat_interleave(num_subsets, 0) for name, value in tokens.items()}
        logits, _ = self.fuse(repeated, present)
        return logits.view(len(batch), num_subsets, -1)

    @torch.no_grad()
    def subset_accuracy(self, batch: Batch, tokens: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Per-sample accuracy (0/1) under each of the 2^M subsets: the B x 2^M value table that MCE's Eq. 4 and
        DREAM's PAS take Shapley values of. The empty subset predicts from nothing but the fusion's bias."""
        logits = self.subset_logits(batch, None, tokens)
        return (logits.argmax(-1) == batch.y.unsqueeze(1)).float()
