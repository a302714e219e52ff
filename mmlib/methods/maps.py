"""MAPs: missing-aware prompts (Lee et al., CVPR 2023), the prompt baseline of MGR's Tables 1-4.

MAPs keeps a multimodal transformer and gives it one set of learnable prompts per *missing case* (which
modalities a sample has): a sample reads the prompts of its own case. Lee et al. insert them in one of two ways:

- ``input``: the case's prompts are prepended to the token sequence entering each of the first
  ``prompt_layers`` blocks and dropped from the block's output (deep prompt tuning; MAPs' default, their best);
- ``attention``: the case's prompts are prepended to the *keys and values* of the attention of those blocks
  only (prefix tuning), so no position is added to the sequence.

Here the backbone is the ``transformer`` baseline (:class:`~mmlib.methods.baselines.TransformerFusion`: MGR's
Eq. 1 embedding and Eq. 2 fusion transformer). Choices the paper (and MGR's use of it) leave open, made here:

- Lee et al. freeze a pre-trained ViLT and train only prompts and head; our backbone is small and trained from
  scratch, so everything trains together (a frozen random backbone would measure nothing).
- Prompt length 4 and ``prompt_layers`` = every block of the 2-block backbone (MAPs: length 16 over the first
  6 of 12 ViLT layers); the empty case (no modality) has prompts too but never occurs.
- Training recipe: AdamW as in MGR's experiments, at lr 1e-3 (not MGR's 1e-4, which fine-tunes a pre-trained
  model): the same recipe as :mod:`mmlib.methods.mgr`, so Tables 1-4 compare methods, not optimisers.
"""
from __future__ import annotations

import torch
from torch import nn

from ..train import TrainConfig
from .base import MultimodalMethod
from .baselines import TransformerFusion
from .registry import register

#: the training recipe of the MGR chapter's methods (MGR's AdamW; lr and epochs for training from scratch)
MGR_RECIPE = TrainConfig(epochs=30, batch_size=64, lr=1e-3, weight_decay=1e-2, optimizer="adamw", patience=8)


def missing_case(present: torch.Tensor) -> torch.Tensor:
    """Index of each sample's missing case: the presence bits read as a number (bit i = modality i), B."""
    weights = 2 ** torch.arange(present.shape[1], device=present.device)
    return (present.long() * weights).sum(1)


@register
class MissingAwarePrompts(TransformerFusion):
    name = "maps"
    recipe = MGR_RECIPE

    def __init__(self, spec, d_model: int = 64, num_tokens=None, dropout: float = 0.1, num_layers: int = 2,
                 num_heads: int = 4, prompt_length: int = 4, prompt_layers: int | None = None,
                 insertion: str = "input", embedding: str = "modality"):
        super().__init__(spec, d_model, num_tokens, dropout, num_layers, num_heads, embedding)
        if insertion not in ("input", "attention"):
            raise ValueError(f"MAPs insertion must be 'input' or 'attention', got {insertion!r}")
        self.insertion = insertion
        self.prompt_layers = num_layers if prompt_layers is None else min(prompt_layers, num_layers)
        self.prompt_length = prompt_length
        num_cases = 2 ** spec.num_modalities
        # one prompt set per missing case and prompted layer; attention-level prompts need a key and a value part
        parts = 1 if insertion == "input" else 2
        self.prompts = nn.Parameter(torch.randn(self.prompt_layers, num_cases, parts, prompt_length, d_model) * 0.02)

    def fuse(self, tokens, present):
        x = self.embed(tokens, present)
        fusion = self.fusion
        x = torch.cat([fusion.cls.expand(x.shape[0], -1, -1), x], 1)
        prompts = self.prompts[:, missing_case(present)]  # layers x B x parts x length x d
        for layer, block in enumerate(fusion.blocks):
            if layer >= self.prompt_layers:
                x = block(x)
            elif self.insertion == "input":
                x = block(torch.cat([prompts[layer, :, 0], x], 1))[:, self.prompt_length:]
            else:
                q, k, v = block.qkv(block.norm1(x)).chunk(3, -1)
                k = torch.cat([prompts[layer, :, 0], k], 1)
                v = torch.cat([prompts[layer, :, 1], v], 1)
                x = block.finish(x, block.attend(q, k, v))
        features = fusion.norm(x)[:, 0]
        return self.head(features), features

    # the fast subset pass of the transformer baseline knows nothing of prompts: use the generic one
    subset_logits = MultimodalMethod.subset_logits
