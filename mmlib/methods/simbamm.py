"""SimBaMM: the simple baseline for multimodal learning of Rheude et al., "Fusion or Confusion? Multimodal
Complexity Is Not All You Need" (arXiv 2512.22991), the bar the benchmark (``mmlib.benchmark``) asks every paper's
method to clear.

As that paper describes it: each modality m present in a sample is encoded by its own encoder E_m, and its
embeddings are projected into a shared d-dimensional space by a modality-specific linear layer P_m; the projected
tokens of the modalities *present* form the sequence a late-fusion transformer reads, a [CLS]-style token feeding
the classification head. An absent modality is **masked out of attention** (:meth:`mmlib.nn.FusionTransformer.forward`
``keep``), not replaced by a learned or zero stand-in as in the ``transformer`` baseline (MGR's Eq. 1); training
applies modality dropout (each modality dropped with p = 0.5 per sample and step, at least one kept: the book's
``dropout`` baseline's masking, :class:`~mmlib.missing.ModalityDropout`).

Choices the description leaves open, made here:

- E_m is the book's encoder of the modality's kind (:func:`mmlib.nn.make_encoder`), as for every other method, so
  the benchmark compares fusions, not encoders; SimBaMM's "configurable tokens per modality" are the encoder's tokens.
- A learned embedding per (modality, token position) is added to the projected tokens: without one a transformer
  cannot tell which modality or time step a token came from (ViLT's modality-type and position embeddings, folded
  into one N_m x d matrix per modality).
- A token that saw nothing, a span of a sequence whose frames were all dropped (the missing-frames protocols),
  is masked out of attention as an absent modality is: the sequence encoder makes such a token exactly zero.
- Two blocks, four heads, the ``transformer`` baseline's fusion; the default training recipe
  (:class:`~mmlib.train.TrainConfig`), which the benchmark tunes alike for every method.
"""
from __future__ import annotations

import torch
from torch import nn

from ..missing import ModalityDropout
from ..nn import FusionTransformer
from .base import MultimodalMethod
from .registry import register


@register
class SimBaMM(MultimodalMethod):
    name = "simbamm"
    train_dropout = ModalityDropout(0.5)

    def __init__(self, spec, d_model: int = 64, num_tokens=None, dropout: float = 0.1, num_layers: int = 2,
                 num_heads: int = 4):
        super().__init__(spec, d_model, num_tokens, dropout)
        counts = {name: encoder.num_tokens for name, encoder in self.encoders.items()}
        self.project = nn.ModuleDict({name: nn.Linear(d_model, d_model) for name in counts})  # P_m
        self.position = nn.ParameterDict({name: nn.Parameter(torch.randn(1, count, d_model) * 0.02)
                                          for name, count in counts.items()})
        self.fusion = FusionTransformer(d_model, num_layers, num_heads, dropout)
        self.head = nn.Linear(d_model, spec.num_classes)

    def fuse(self, tokens, present):
        names = self.spec.modality_names
        sequence = torch.cat([self.project[n](tokens[n]) + self.position[n] for n in names], 1)
        keep = present.repeat_interleave(torch.tensor([tokens[n].shape[1] for n in names], device=present.device),
                                         dim=1)  # B x (tokens of all modalities): a modality's tokens go with it
        # a token that saw nothing (a span of a sequence whose frames were all dropped: the sequence encoder makes
        # it exactly zero) is masked out too, as an absent modality is
        keep = keep & torch.cat([tokens[n].detach().abs().amax(-1) > 0 for n in names], 1)
        features = self.fusion(sequence, keep)[:, 0]
        return self.head(features), features
