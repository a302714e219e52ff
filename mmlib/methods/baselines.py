"""The three baselines every chapter compares against.

- ``concat``: late fusion of pooled per-modality features (absent ones zeroed) by an MLP, trained on what
  the training split holds: the no-robustness baseline.
- ``dropout``: the same network trained with random modality dropout (each modality dropped with p = 0.5 per
  sample and step, at least one kept; :class:`~mmlib.missing.ModalityDropout`).
- ``transformer``: a fusion transformer over the tokens of all modalities, where an absent modality's tokens
  are replaced by a learned missing-modality embedding and a present one's get a learned availability
  embedding (MGR's Eq. 1): the ViLT-like baseline that MGR and MMP build on.
"""
from __future__ import annotations

import torch
from torch import nn

from ..missing import ModalityDropout
from ..nn import FusionTransformer, mlp, pool
from ..shapley import subsets
from .base import MultimodalMethod
from .registry import register


@register
class ConcatFusion(MultimodalMethod):
    name = "concat"

    def __init__(self, spec, d_model: int = 64, num_tokens=None, dropout: float = 0.1):
        super().__init__(spec, d_model, num_tokens, dropout)
        self.head = mlp(spec.num_modalities * d_model, 2 * d_model, spec.num_classes, dropout)

    def fuse(self, tokens, present):
        pooled = [pool(tokens[name]) * present[:, i : i + 1] for i, name in enumerate(self.spec.modality_names)]
        features = torch.cat(pooled, 1)
        return self.head(features), features


@register
class DropoutFusion(ConcatFusion):
    name = "dropout"
    train_dropout = ModalityDropout(0.5)


@register
class TransformerFusion(MultimodalMethod):
    name = "transformer"

    def __init__(self, spec, d_model: int = 64, num_tokens=None, dropout: float = 0.1, num_layers: int = 2,
                 num_heads: int = 4):
        super().__init__(spec, d_model, num_tokens, dropout)
        counts = {name: encoder.num_tokens for name, encoder in self.encoders.items()}
        self.available = nn.ParameterDict({n: nn.Parameter(torch.zeros(1, 1, d_model)) for n in counts})
        self.missing = nn.ParameterDict({n: nn.Parameter(torch.randn(1, c, d_model) * 0.02) for n, c in counts.items()})
        self.fusion = FusionTransformer(d_model, num_layers, num_heads, dropout)
        self.head = nn.Linear(d_model, spec.num_classes)

    def embed(self, tokens: dict[str, torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """MGR Eq. 1: tokens + E_avail where a modality is present, E_miss where it is absent (B x sum T x d)."""
        parts = []
        for i, name in enumerate(self.spec.modality_names):
            keep = present[:, i].view(-1, 1, 1)
            parts.append(torch.where(keep, tokens[name] + self.available[name], self.missing[name]))
        return torch.cat(parts, 1)

    def fuse(self, tokens, present):
        features = self.fusion(self.embed(tokens, present))[:, 0]
        return self.head(features), features

    @torch.no_grad()
    def subset_logits(self, batch, members=None, tokens=None):
        """The batched pass over subsets through :meth:`FusionTransformer.cls_under_subsets` (evaluation mode)."""
        members = subsets(self.spec.num_modalities) if members is None else members.to(batch.present.device)
        tokens = self.encode(batch) if tokens is None else tokens
        names = self.spec.modality_names
        real = torch.cat([tokens[n].detach() + self.available[n] for n in names], 1)
        missing = torch.cat([self.missing[n][0] for n in names], 0)
        counts = torch.tensor([tokens[n].shape[1] for n in names], device=real.device)
        present = batch.present.unsqueeze(1) & members.unsqueeze(0)  # B x K x M
        keep = present.repeat_interleave(counts, dim=2)  # B x K x (tokens of all modalities)
        was_training = self.training
        self.eval()
        try:
            logits = self.head(self.fusion.cls_under_subsets(real, missing, keep))
        finally:
            self.train(was_training)
        return logits
