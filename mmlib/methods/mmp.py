"""MMP: Masked Modality Projection (Nezakati et al.), one model robust to any missing-modality case.

Built on the ``transformer`` baseline (:class:`~mmlib.methods.baselines.TransformerFusion`): its encoders give
each modality's tokens T_i (Eq. 1) and its fusion transformer is the backbone, so that the paper's Table I
columns differ only in training:

- ``transformer`` ("pretrained"): the backbone trained on complete data; a missing modality gets the learned
  missing-modality embedding;
- ``transformer_dropout`` ("modality dropout"): the same, trained with modality masking at p = 0.5;
- ``mmp``: the same backbone and masking, plus a projection that predicts a masked modality's tokens from the
  available ones (Eq. 2-5), trained with the alignment loss (Eq. 6-7). The projected tokens replace the masked
  modality's tokens and enter the fusion as if they were real (with the availability embedding).

Masking (section III-A) is done inside :meth:`MMP.forward`, not by the training loop's ``train_dropout``: the
loop zero-fills a masked modality's input before ``forward``, but Eq. 6 needs the masked modality's *real* tokens
as the target. So ``forward`` encodes every modality from its real input, draws the mask with
:class:`~mmlib.missing.ModalityDropout` (p = 0.5 per modality and sample, at least one kept, so a realised drop
rate of (p - p^M) / (1 - p^M)), and discards the masked modalities' tokens from the fusion (they are replaced by
projections), keeping them only as alignment targets. Since the fusion never reads a masked modality's tokens,
zero placeholders in its input would change nothing.

Where the paper leaves a choice open, the choice made here:

- Tokens: a modality's tokens are its encoder's (:func:`mmlib.nn.make_encoder`): for an image, a square grid of
  convolutional feature tokens; for a sequence, the mean over equal spans of time; for a feature vector, slices of
  an MLP's output (``num_tokens`` of them: one token would leave Eq. 2's attention nothing to attend over).
  Eight aggregated tokens per modality, as the paper.
- Width: ``d_model`` defaults to 64 here (the constructor's default, what ``python -m mmlib run`` trains); the
  book's chapter sets d, the token count and the recipe per profile (``notebooks/mmp/grid.py``, ``Chapter.model``
  and ``Chapter.training``), and its notebook 01 shows the values each profile uses, computed from there.
- Module sharing: one cross-attention per modality for Eq. 2 (over its own tokens), one per *masked* modality i
  for Eq. 3 (shared over the available j), one per *available* modality j for Eq. 4 (shared over i), and one MLP
  per masked modality for Eq. 5: 3M cross-attention blocks and M MLPs, the O(M d^2) parameters of section IV-H.
  Each masked modality is projected only for the samples that miss it; the projection's attention has no dropout.
- Eq. 5 with variable availability and token counts (section III-C): the refined tokens of the other M - 1
  modalities are concatenated along the token axis, an unavailable modality's tokens set to zero; the MLP is a
  feature MLP (d -> 2d -> d) followed by a linear map over the token axis (sum_j N_j -> N_i), the "linear layer
  in the MLP" that aligns the token count with the masked modality.
- Eq. 6: the real tokens are the target, with the gradient stopped on them (a regression target; otherwise the
  encoders could lower the loss by shrinking their tokens); the loss is averaged over the masked modality
  occurrences of the batch (N_masked of Eq. 6), weight 1 as Eq. 7 (``alignment_weight``).
- The paper starts MMP from a backbone pre-trained with modality dropout; ``mmp`` trains from scratch with the
  same recipe as its backbone (``MMP_RECIPE``: AdamW, lr 1e-3, weight decay 0.01; the paper says "AdamW, standard
  configurations"); the book's chapter runs the paper's warm start as a second stage from the kept
  ``transformer_dropout`` run.

Inference only (the ablation "where the projection helps"): ``fill_missing = "missing_embedding"`` on a trained
MMP gives a missing modality the backbone's missing-modality embedding instead of its projection, on the same
weights. MMP's training never reads that embedding (a masked modality is always projected): it gets a zero gradient,
and only AdamW's weight decay moves it from its initial value, so the ablation measures what the projection adds
over a placeholder the fusion never learnt to read.

Ablation switches (Table V): ``projection="linear"`` replaces the cross-attention projection (Eq. 2-4) by a linear
one (Eq. 5's concatenation of the available modalities' own tokens, then the feature and token-axis linear maps,
no attention, no hidden non-linearity): "Dropout + LP"; ``alignment_weight=0`` drops Eq. 6. The variants are
registered as ``mmp_lp`` (LP, no alignment) and ``mmp_lp_align`` (LP + alignment); ``mmp`` is CA + alignment.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..missing import ModalityDropout
from ..nn import CrossAttention, mlp
from ..train import TrainConfig
from .base import MethodOutput, MultimodalMethod
from .baselines import TransformerFusion
from .registry import register

PROJECTIONS = ("cross_attention", "linear")
FILLS = ("projection", "missing_embedding")  # MMP.fill_missing
#: the recipe of the three Table I models (AdamW as the paper; weight decay and lr chosen for small models)
MMP_RECIPE = TrainConfig(epochs=30, batch_size=64, lr=1e-3, weight_decay=0.01, optimizer="adamw")


@register
class TransformerDropout(TransformerFusion):
    """Table I's "modality dropout": the ``transformer`` backbone trained with modality masking at p = 0.5
    (the training loop zero-fills a masked modality, which then gets the learned missing embedding)."""

    name = "transformer_dropout"
    recipe = MMP_RECIPE
    train_dropout = ModalityDropout(0.5)


class CrossAttentionProjection(nn.Module):
    """Eq. 2-4 for every (masked modality i, source j) pair: for each masked i, the list of its M - 1 sources'
    refined tokens T_attended_j (in spec order, i left out), on the samples that miss i (rows[i] x N_j x d).
    Unavailable sources are computed too and zeroed by :class:`ProjectionHead`."""

    def __init__(self, counts: dict[str, int], d_model: int, num_aggregated: int = 8, num_heads: int = 4,
                 dropout: float = 0.1):
        super().__init__()
        self.names = list(counts)
        self.aggregated = nn.ParameterDict(
            {n: nn.Parameter(torch.randn(1, num_aggregated, d_model) * 0.02) for n in counts})
        self.update = nn.ModuleDict({n: CrossAttention(d_model, num_heads, dropout) for n in counts})  # Eq. 2
        self.relate = nn.ModuleDict({n: CrossAttention(d_model, num_heads, dropout) for n in counts})  # Eq. 3
        self.refine = nn.ModuleDict({n: CrossAttention(d_model, num_heads, dropout) for n in counts})  # Eq. 4

    def forward(self, tokens: dict[str, torch.Tensor], rows: dict[str, torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        """``rows`` maps each masked modality i to the indices of the samples it is projected for."""
        batch = next(iter(tokens.values())).shape[0]
        # Eq. 2: aggregated tokens of each (potentially available) modality j, updated from its own tokens T_j
        updated = {j: self.update[j](self.aggregated[j].expand(batch, -1, -1), tokens[j]) for j in self.names}
        related = {}
        for i, index in rows.items():
            sources = [j for j in self.names if j != i]
            # Eq. 3: T_ij = CrossAttention(T̄_i, T̄_updated_j), every source j in one batched call
            stacked = torch.cat([updated[j][index] for j in sources], 0)
            attended = self.relate[i](self.aggregated[i].expand(stacked.shape[0], -1, -1), stacked)
            related.update({(i, j): t_ij for j, t_ij in zip(sources, attended.split(len(index), 0))})
        # Eq. 4: T_attended_j = CrossAttention(T_j, T_ij), every masked modality i in one batched call per source j
        refined = {i: {} for i in rows}
        for j in self.names:
            targets = [i for i in rows if i != j]
            if not targets:
                continue
            queries = torch.cat([tokens[j][rows[i]] for i in targets], 0)
            contexts = torch.cat([related[i, j] for i in targets], 0)
            outputs = self.refine[j](queries, contexts).split([len(rows[i]) for i in targets], 0)
            for i, output in zip(targets, outputs):
                refined[i][j] = output
        return {i: [refined[i][j] for j in self.names if j != i] for i in rows}


class ProjectionHead(nn.Module):
    """Eq. 5 with section III-C: concatenation of the sources' tokens along the token axis (unavailable sources
    zeroed), a feature map d -> d (an MLP, or linear for the LP ablation), then a linear map over the token axis
    to the masked modality's token count."""

    def __init__(self, source_tokens: int, target_tokens: int, d_model: int, linear: bool, dropout: float = 0.1):
        super().__init__()
        self.features = nn.Linear(d_model, d_model) if linear else mlp(d_model, 2 * d_model, d_model, dropout)
        self.tokens = nn.Linear(source_tokens, target_tokens)

    def forward(self, sources: list[torch.Tensor], available: torch.Tensor) -> torch.Tensor:
        # available: B x (M - 1) bool, which sources a sample has (the set A of Eq. 5)
        gated = [s * available[:, k].view(-1, 1, 1) for k, s in enumerate(sources)]
        concatenated = self.features(torch.cat(gated, 1))  # B x sum_j N_j x d
        return self.tokens(concatenated.transpose(1, 2)).transpose(1, 2)  # B x N_i x d


@register
class MMP(TransformerFusion):
    name = "mmp"
    recipe = MMP_RECIPE
    train_dropout = None  # the masking happens in forward, which needs the masked modalities' real tokens
    masking = ModalityDropout(0.5)
    #: what a missing modality gets at inference: its projection (Eq. 2-5), or, for the inference-only ablation,
    #: the backbone's missing-modality embedding (untrained in MMP: see the module's docstring)
    fill_missing = "projection"

    def __init__(self, spec, d_model: int = 64, num_tokens: int | None = 4, dropout: float = 0.1,
                 num_layers: int = 2, num_heads: int = 4, projection: str = "cross_attention",
                 alignment_weight: float = 1.0, num_aggregated: int = 8):
        super().__init__(spec, d_model, num_tokens, dropout, num_layers, num_heads)
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
        if spec.num_modalities < 2:
            raise ValueError("MMP projects a missing modality from the others: it needs at least two modalities")
        self.projection = projection
        self.alignment_weight = alignment_weight
        counts = {name: encoder.num_tokens for name, encoder in self.encoders.items()}
        # no dropout inside the projection's attention: on the CPU it costs more than the attention itself
        self.attention = (CrossAttentionProjection(counts, d_model, num_aggregated, num_heads, dropout=0.0)
                          if projection == "cross_attention" else None)
        total = sum(counts.values())
        self.heads = nn.ModuleDict({i: ProjectionHead(total - c, c, d_model, projection == "linear", dropout)
                                    for i, c in counts.items()})

    def project(self, tokens: dict[str, torch.Tensor], present: torch.Tensor, targets: list[str],
                rows: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Projected tokens T'_i of each modality in ``targets`` from the modalities ``present`` (B x M) marks as
        available (Eq. 2-5): B x N_i x d, or len(rows[i]) x N_i x d for only the samples ``rows[i]`` (indices)."""
        names = self.spec.modality_names
        everyone = torch.arange(present.shape[0], device=present.device)
        rows = {i: everyone for i in targets} if rows is None else rows
        if self.attention is not None:
            sources = self.attention(tokens, rows)
        else:
            sources = {i: [tokens[j][rows[i]] for j in names if j != i] for i in targets}
        projected = {}
        for i in targets:
            k = names.index(i)
            available = torch.cat([present[:, :k], present[:, k + 1:]], 1)[rows[i]]
            projected[i] = self.heads[i](sources[i], available)
        return projected

    def complete(self, tokens: dict[str, torch.Tensor], present: torch.Tensor):
        """Every modality's tokens, the missing ones replaced by their projections, and the projections
        (each computed for the samples missing that modality only; zeros elsewhere)."""
        names = self.spec.modality_names
        rows = {n: torch.nonzero(~present[:, k]).squeeze(1) for k, n in enumerate(names)
                if not bool(present[:, k].all())}
        projected = self.project(tokens, present, list(rows), rows)
        completed, full = dict(tokens), {}
        for name, index in rows.items():
            full[name] = torch.zeros_like(tokens[name]).index_copy(0, index, projected[name])
            completed[name] = tokens[name].index_copy(0, index, projected[name])
        return completed, full

    def fuse(self, tokens, present):
        if self.fill_missing == "missing_embedding":
            return super().fuse(tokens, present)
        completed, _ = self.complete(tokens, present)
        everything = torch.ones_like(present)  # projected tokens enter the branch of their modality as real ones
        features = self.fusion(self.embed(completed, everything))[:, 0]
        return self.head(features), features

    def alignment_loss(self, tokens: dict[str, torch.Tensor], projected: dict[str, torch.Tensor],
                       masked: torch.Tensor) -> torch.Tensor:
        """Eq. 6: Smooth L1 between projected and real tokens, over the masked (sample, modality) pairs only,
        averaged over their number N_masked. ``masked``: B x M bool."""
        total, count = tokens[self.spec.modality_names[0]].new_zeros(()), 0
        for k, name in enumerate(self.spec.modality_names):
            rows = masked[:, k]
            if name in projected and rows.any():
                per_sample = F.smooth_l1_loss(projected[name][rows], tokens[name][rows].detach(),
                                              reduction="none").mean((1, 2))
                total = total + per_sample.sum()
                count += int(rows.sum())
        return total / max(count, 1)

    def forward(self, batch) -> MethodOutput:
        if self.fill_missing not in FILLS:
            raise ValueError(f"fill_missing must be one of {FILLS}, got {self.fill_missing!r}")
        if not self.training and self.fill_missing == "missing_embedding":
            return super().forward(batch)  # the backbone's own path: the missing embedding (ablation, inference)
        tokens = self.encode(batch)
        present = batch.present
        if self.training:
            # section III-A: each modality masked with probability 0.5, at least one kept
            kept = self.masking.sample(present.cpu()).to(present.device)
        else:
            kept = present
        completed, projected = self.complete(tokens, kept)
        features = self.fusion(self.embed(completed, torch.ones_like(kept)))[:, 0]
        logits = self.head(features)
        losses = {}
        if self.training and self.alignment_weight > 0:
            # Eq. 7: L_total = L_task + L_alignment (the training loop adds the task loss)
            losses["alignment"] = self.alignment_weight * self.alignment_loss(tokens, projected, present & ~kept)
        return MethodOutput(logits, losses, features, tokens)

    # The fusion reads projections, not the missing embedding: the baseline's fast subset pass does not apply.
    subset_logits = MultimodalMethod.subset_logits


@register
class MMPLinear(MMP):
    """Table V's "Dropout + LP": a linear projection, no alignment loss."""

    name = "mmp_lp"

    def __init__(self, spec, **options):
        options.setdefault("projection", "linear")
        options.setdefault("alignment_weight", 0.0)
        super().__init__(spec, **options)


@register
class MMPLinearAligned(MMP):
    """Table V's "Dropout + LP + Align": a linear projection with the alignment loss."""

    name = "mmp_lp_align"

    def __init__(self, spec, **options):
        options.setdefault("projection", "linear")
        super().__init__(spec, **options)
