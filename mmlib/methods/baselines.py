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

#: the forms of MGR's Eq. 1 embedding (:meth:`TransformerFusion.embed`): ``modality``, one availability vector per
#: modality and no position (the book's first form, kept as the other chapters' default); ``paper``, Eq. 1 as
#: printed (E_avail per token, N_i x d) with ViLT's modality-type and position embeddings
EMBEDDINGS = ("modality", "paper")


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
                 num_heads: int = 4, embedding: str = "modality"):
        super().__init__(spec, d_model, num_tokens, dropout)
        if embedding not in EMBEDDINGS:
            raise ValueError(f"embedding must be one of {', '.join(EMBEDDINGS)}, got {embedding!r}")
        self.embedding = embedding
        counts = {name: encoder.num_tokens for name, encoder in self.encoders.items()}
        # E_avail: one vector per modality ("modality", the book's first form) or one per token ("paper", Eq. 1:
        # N_i x d), zero at the start (a present modality starts as its encoder's tokens)
        self.available = nn.ParameterDict({n: nn.Parameter(torch.zeros(1, c if embedding == "paper" else 1, d_model))
                                           for n, c in counts.items()})
        self.missing = nn.ParameterDict({n: nn.Parameter(torch.randn(1, c, d_model) * 0.02) for n, c in counts.items()})
        if embedding == "paper":  # ViLT's modality-type and position embeddings (MGR instantiates Eq. 2 by ViLT)
            self.modality_type = nn.ParameterDict({n: nn.Parameter(torch.randn(1, 1, d_model) * 0.02) for n in counts})
            self.position = nn.ParameterDict({n: nn.Parameter(torch.randn(1, c, d_model) * 0.02)
                                              for n, c in counts.items()})
        self.fusion = FusionTransformer(d_model, num_layers, num_heads, dropout)
        self.head = nn.Linear(d_model, spec.num_classes)

    def _type_and_position(self, name: str) -> torch.Tensor | float:
        """ViLT's modality-type and position embeddings of modality ``name`` (1 x N_i x d); 0 for ``"modality"``."""
        if self.embedding != "paper":
            return 0.0
        return self.modality_type[name] + self.position[name]

    def embed(self, tokens: dict[str, torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """MGR Eq. 1: tokens + E_avail where a modality is present, E_miss where it is absent (B x sum T x d); with
        ``embedding="paper"``, E_avail is per token and every token, present or absent, gets its modality's type
        and position embedding, as ViLT's embedding layer adds them to every input token (for an absent
        modality E_miss + type + position is one learned N_i x d matrix, so Eq. 1's absence case is unchanged)."""
        parts = []
        for i, name in enumerate(self.spec.modality_names):
            keep = present[:, i].view(-1, 1, 1)
            part = torch.where(keep, tokens[name] + self.available[name], self.missing[name])
            parts.append(part + self._type_and_position(name))
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
        real = torch.cat([tokens[n].detach() + self.available[n] + self._type_and_position(n) for n in names], 1)
        missing = torch.cat([(self.missing[n] + self._type_and_position(n))[0] for n in names], 0)
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
