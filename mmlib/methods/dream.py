"""DREAM: Dynamic modality Recognition and Enhancement for Adaptive Multimodal fusion (Bi et al., 2025).

Three modules on top of a frozen, pre-trained backbone that predicts from any modality subset:

1. **Dynamic Modality Contribution Evaluation** (section 3.3). The backbone predicts every sample under each of the
   2^M coalitions of modalities, in one batched pass (a B x 2^M table of predictions). From that table:

   - the Prediction Shift Score (Eq. 1-2), PSS_i = sum_{S not containing i} |S|!(M-|S|-1)!/M! I(y_{S+i} != y_S),
     through :func:`mmlib.shapley.shapley_of_marginals` (its marginal is an indicator, not a difference of values);
   - the Prediction Accuracy Score (Eq. 3-4), the exact Shapley value of V(S) = |S| if y_S = y else 0, through
     :func:`mmlib.shapley.exact_shapley` (needs the label: training only).

2. **Modality Enhancement Module** (section 3.4, Eq. 5-9). For a target modality m: cross-modal attention of x_m over
   the global context Z_g = [x_m, all others] and over each partial context Z_k = [x_m, x_k], then
   x'_m = LN(x_m + I_g + sum_k I_k); repeated D times (D = 2, appendix A.2). Applied to the modalities whose PSS is
   zero (per sample); the others keep their representation. ``dynamic_enhancement=False`` is the ablation
   "w/o dynamic enhancement": every modality is reconstructed.

3. **Modality-aware Masked Fusion Module** (section 3.5, Eq. 10-13). Each modality attends over all modalities
   (h_i, pooled); a linear layer on [h_1..h_M] predicts the preliminary fusion weights w, a distribution over the
   modalities (a softmax of the layer's output: Eq. 12 takes a KL divergence of w, and section 3.5 reweights "the
   preliminary fusion weights"); w' = softmax(w * (PSS + 1)) (Eq. 10); H = sum_i w'_i h_i (Eq. 11); a linear layer
   gives the logits. The loss adds lambda * KL(PAS || w) (Eq. 12-13). ``masked_fusion=False`` is the ablation
   "w/o MMFM": w' = w and no distillation.

   Why w is a distribution, not the linear layer's raw output: Eq. 10 multiplies w by PSS + 1 >= 1 so that "the
   influence of generated modalities [PSS = 0] should be down-weighted during fusion" (section 3.5). That holds only
   for w >= 0: a negative raw weight multiplied by PSS + 1 drops, and the mask would then *raise* the weight of the
   zero-PSS modality, e.g. the one missing from the input. Until issue 16 we applied Eq. 10 to the raw output, and
   a missing modality could take most of the fusion weight. With w a distribution a zero-PSS modality's w' is never
   above softmax(w)_i, and below that of any modality with PSS > 0 and as large a w (:func:`soft_mask_weights`).
   The price of this reading: w in [0, 1] times PSS + 1 <= 2 spans at most 2, so w' ranges over a factor e^2 at most.

**Trained on complete data** (the method as specified, not changed here). A modality missing at test has PSS = 0 and
is always routed through the enhancement modules (Eq. 5-9), which are trained only on the modalities whose PSS is
zero in training, with no reconstruction loss of their own (the paper gives none). On complete data where every
modality shifts the backbone's prediction, such samples are rare and the modules barely train; the chapter's
notebook on Table 1 measures that share and what the enhancement of a zero-filled modality costs then (a test-time
switch: ``method.enhance = nn.ModuleList()`` on a trained model is D = 0).

**No missing-modality annotations.** ``forward`` never reads ``batch.present`` (nor ``batch.frame_mask``, which
intra-modal masking edits): it sees the zero-filled inputs ``batch.x`` only (appendix A.2). Coalitions are DREAM's
own choice, formed by zero-filling the inputs of the modalities outside them, as the paper's y_S ("only the
modalities in S are provided as input"). The paper's backbone takes no presence flags; ours (a baseline of this
library, whose ``fuse`` takes a presence matrix) is run blind: its presence matrix is all-true for every coalition,
so that removing a modality and a modality absent from the data look the same to it (zeros). An absent modality is
then a null player and gets PSS = 0 exactly, the premise of section 3.4. ``coalitions="presence"`` instead passes
each coalition as the backbone's presence matrix (all-true for the full input; never the data's ``present``): a
data-absent modality is then "present with zero input" to the backbone and its PSS need not be zero (the chapter
measures how often it is not).

**The backbone.** The paper uses CorrKD's backbone. Ours is a baseline of this library, pre-trained in
:meth:`DREAM.prepare` on the same (blind) training split, then frozen:

- ``"dropout"`` (default): concatenation fusion trained with modality dropout (p = 0.5), so every coalition that DREAM
  queries is a situation met in pre-training and the subset predictions are meaningful: the closest of our baselines
  to the paper's "pre-trained model that predicts from any subset". Dropped modalities are zero-filled (and, with
  ``coalitions="presence"``, flagged by the dropout's coalition; never by the data's annotations).
- ``"transformer"``: the fusion transformer (for Q4; ``backbone_dropout=0.5`` gives it modality dropout too);
- ``"concat"``: the same MLP fusion trained without modality dropout (the paper's "MLP" backbone, for Q4);
- ``backbone_epochs=1``: an under-trained backbone (Q4).

Choices the paper leaves open, and ours:

- The preliminary weights w are a softmax of a linear layer's output (the paper: "a linear projection layer to
  predict a preliminary weight matrix w"; the softmax makes them the non-negative weights Eq. 10 reweights and the
  distribution Eq. 12 compares). PAS enters the KL as a distribution through a softmax over modalities: the KL is
  KL(softmax(PAS) || w). lambda = 0.1 (no value given).
- Cross-modal attention: multi-head (4 heads) with no residual inside (Eq. 9 adds the residual once). Every target
  modality m has its own attention for the global context and one per partner k (M x M attentions per repetition);
  a repetition updates only the targets, so a partner enters as its current (possibly reconstructed) state.
- Per-modality encoders as in the rest of the library (an MLP for vectors, a temporal convolution for sequences, a
  small CNN for images; the paper's Conv1D for its word-aligned sequences), all with the same number of tokens so
  that the attentions run batched over modalities.
- Training recipe (appendix A.2, MOSI): Adam, lr 1e-4, batch 32, 30 epochs, embedding size 200, D = 2. The backbone
  is pre-trained with its own recipe (Adam, lr 1e-3, batch 64, early stopping), with at most as many epochs. The
  pre-trained backbone is kept by :func:`mmlib.trained.train_once` (keyed by its initial weights, data and recipe),
  so that the variants of one grid (the ablations) share it instead of pre-training it again.
- ``modality_dropout=p`` (not the paper's; off by default) lets the training loop zero-fill randomly dropped
  modalities, as the ``dropout`` baseline trains; DREAM is not told which were dropped.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..data.core import Batch
from ..missing import ModalityDropout
from ..shapley import exact_shapley, shapley_of_marginals, subsets
from ..train import TrainConfig, fit
from ..trained import train_once
from .base import MethodOutput, MultimodalMethod
from .registry import make_method, register

__all__ = ["DREAM", "ModuleAttention", "ContributionScores", "BlindBackbone", "soft_mask_weights", "blind_view",
           "blind_dataset"]


def soft_mask_weights(weights: torch.Tensor, pss: torch.Tensor) -> torch.Tensor:
    """Eq. 10: w' = softmax(w * (PSS + 1)) over modalities (B x M), w the preliminary fusion weights: a distribution
    over the modalities (non-negative), so that multiplying by PSS + 1 >= 1 can only favour the modalities that shift
    the prediction, never a zero-PSS (missing or reconstructed) one (section 3.5)."""
    if (weights < 0).any():
        raise ValueError("Eq. 10 takes the preliminary fusion weights w >= 0 (a distribution over the modalities); "
                         "on negative weights the PSS mask would raise the weight of zero-PSS modalities")
    return torch.softmax(weights * (pss + 1), -1)


def blind_view(batch: Batch) -> Batch:
    """The batch as DREAM sees it: the zero-filled inputs, with an all-true presence matrix and no frame masks.
    Built without reading ``batch.present``."""
    members = torch.ones(len(batch), len(batch.x), dtype=torch.bool, device=batch.y.device)
    return Batch(batch.x, members, batch.y, {})


def blind_dataset(dataset):
    """A dataset with the same zero-filled inputs and labels, every modality marked present and every frame real:
    what the backbone is pre-trained on (annotation-free, like DREAM)."""
    from ..data.core import MultimodalDataset

    present = torch.ones(len(dataset), dataset.spec.num_modalities, dtype=torch.bool)
    return MultimodalDataset(dataset.spec, dataset.x, dataset.y, present, None, dataset.groups)


class BlindBackbone(nn.Module):
    """How the backbone is pre-trained: on :func:`blind_dataset` splits, with the training loop's modality dropout
    (if any) zero-filling dropped modalities. With ``coalitions="zero-fill"`` the backbone always gets an all-true
    presence matrix; with ``"presence"`` it gets the dropout's coalition (on a blind split, the only thing the
    presence matrix can hold)."""

    def __init__(self, method: MultimodalMethod, coalitions: str, train_dropout=None):
        super().__init__()
        self.method = method
        self.name = f"{method.name} backbone"
        self.coalitions = coalitions
        self.train_dropout = train_dropout

    def prepare(self, train, val, config) -> None:
        pass

    def forward(self, batch: Batch) -> MethodOutput:
        present = batch.present if self.coalitions == "presence" else torch.ones_like(batch.present)
        return self.method(Batch(batch.x, present, batch.y, {}))


class ContributionScores(nn.Module):
    """Section 3.3 on a frozen backbone: per-sample PSS (Eq. 1-2) and PAS (Eq. 3-4) from one batched pass of the
    backbone's fusion over all 2^M coalitions, each coalition formed by zero-filling the modalities outside it."""

    def __init__(self, backbone: MultimodalMethod, coalitions: str = "zero-fill"):
        super().__init__()
        if coalitions not in ("zero-fill", "presence"):
            raise ValueError(f"coalitions must be 'zero-fill' or 'presence', got {coalitions!r}")
        self.backbone = backbone
        self.coalitions = coalitions
        self.register_buffer("members", subsets(backbone.spec.num_modalities), persistent=False)

    @torch.no_grad()
    def blank_tokens(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The backbone's tokens of an all-zero input, per modality (1 x T x d): what a zero-filled modality gives."""
        zeros = {name: torch.zeros_like(value[:1]) for name, value in batch.x.items()}
        everything = torch.ones(1, len(zeros), dtype=torch.bool, device=batch.y.device)
        return self.backbone.encode(Batch(zeros, everything, batch.y[:1], {}))

    @torch.no_grad()
    def coalition_logits(self, batch: Batch, members: torch.Tensor | None = None) -> torch.Tensor:
        """B x K x C: the backbone's logits on the input zero-filled outside each coalition of ``members`` (K x M
        bool; default all 2^M in :func:`mmlib.shapley.subsets` order).

        The encoders see one modality each, so the tokens of a zero-filled modality are the tokens of a zero input
        (:meth:`blank_tokens`): the inputs are encoded once, and the fusion runs once on the B x K combinations."""
        backbone = self.backbone
        backbone.eval()
        members = self.members if members is None else members.to(self.members.device)
        view = blind_view(batch)
        if self.coalitions == "presence":
            return backbone.subset_logits(view, members)
        tokens, blank = backbone.encode(view), self.blank_tokens(batch)
        num_subsets, batch_size = members.shape[0], len(batch)
        combined = {}
        for i, name in enumerate(backbone.spec.modality_names):
            member = members[:, i].view(1, num_subsets, 1, 1)
            combined[name] = torch.where(member, tokens[name].unsqueeze(1), blank[name].unsqueeze(1)).flatten(0, 1)
        everything = torch.ones(batch_size * num_subsets, len(combined), dtype=torch.bool, device=batch.y.device)
        logits, _ = backbone.fuse(combined, everything)
        return logits.view(batch_size, num_subsets, -1)

    @torch.no_grad()
    def forward(self, batch: Batch, with_accuracy: bool = True):
        """(PSS, PAS, predictions): B x M, B x M (``None`` unless ``with_accuracy``), B x 2^M."""
        predictions = self.coalition_logits(batch).argmax(-1)
        pss = shapley_of_marginals(predictions, lambda after, before: after != before)  # Eq. 1-2
        pas = None
        if with_accuracy:
            size = self.members.sum(1).to(pss.dtype)
            value = (predictions == batch.y.unsqueeze(1)).to(pss.dtype) * size  # Eq. 3: V(S) = |S| if correct
            pas = exact_shapley(value)  # Eq. 4 with the weights of Eq. 2
        return pss, pas, predictions


class ModuleAttention(nn.Module):
    """A bank of independent multi-head cross-attentions, run in one batched pass.

    Module (m, k), for m < M targets and k < K modules per target, lets the tokens of modality m attend over the
    tokens of the modalities ``context[m, k]`` (an M x K x M bool mask) with its own projections. Returns the
    attention outputs (after each module's output projection, no residual): B x M x K x T x d."""

    def __init__(self, num_modalities: int, modules_per_target: int, d_model: int, num_heads: int = 4,
                 dropout: float = 0.1):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        shape = (num_modalities, modules_per_target)
        self.num_heads = num_heads
        bound = 1 / math.sqrt(d_model)
        self.weight = nn.Parameter(torch.empty(4, *shape, d_model, d_model).uniform_(-bound, bound))  # q, k, v, out
        self.bias = nn.Parameter(torch.zeros(4, *shape, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, states: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        batch, num_modalities, length, d_model = states.shape
        heads, head_dim = self.num_heads, d_model // self.num_heads
        wq, wk, wv, wo = self.weight
        bq, bk, bv, bo = self.bias
        q = torch.einsum("bmtd,mkde->bmkte", states, wq) + bq[None, :, :, None]
        # keys and values of every modality j under every module (m, k): B x M x K x (M T) x d
        k = torch.einsum("bjtd,mkde->bmkjte", states, wk).flatten(3, 4) + bk[None, :, :, None]
        v = torch.einsum("bjtd,mkde->bmkjte", states, wv).flatten(3, 4) + bv[None, :, :, None]
        split = lambda t: t.unflatten(-1, (heads, head_dim)).transpose(-3, -2)  # noqa: E731  (..., H, T, dh)
        scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(head_dim)  # B x M x K x H x T x (M T)
        allowed = context.repeat_interleave(length, -1)[None, :, :, None, None, :]
        weights = self.dropout(torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1))
        attended = (weights @ split(v)).transpose(-3, -2).flatten(-2)  # B x M x K x T x d
        return torch.einsum("bmkte,mkef->bmktf", attended, wo) + bo[None, :, :, None]


class ModalityNorm(nn.Module):
    """LayerNorm over features with a separate gain and bias per modality (B x M x T x d)."""

    def __init__(self, num_modalities: int, d_model: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(num_modalities, 1, d_model))
        self.shift = nn.Parameter(torch.zeros(num_modalities, 1, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:]) * self.gain + self.shift


class EnhancementLayer(nn.Module):
    """One repetition of Eq. 5-9 for every target modality at once: module (m, m) attends over the global context
    Z_g (all modalities), module (m, k) over the partial context Z_k = [x_m, x_k]; x'_m = LN(x_m + sum of all)."""

    def __init__(self, num_modalities: int, d_model: int, num_heads: int, dropout: float):
        super().__init__()
        self.attention = ModuleAttention(num_modalities, num_modalities, d_model, num_heads, dropout)
        self.norm = ModalityNorm(num_modalities, d_model)
        eye = torch.eye(num_modalities, dtype=torch.bool)
        # context[m, k, j]: module (m, k) sees modality j. k == m: every modality (Z_g); else m and k (Z_k).
        context = eye[:, None, :] | eye[None, :, :] | eye[:, :, None]
        self.register_buffer("context", context, persistent=False)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        interactions = self.attention(states, self.context).sum(2)  # I_g + sum_k I_k
        return self.norm(states + interactions)


@register
class DREAM(MultimodalMethod):
    name = "dream"
    recipe = TrainConfig(epochs=30, batch_size=32, lr=1e-4)  # appendix A.2 (MOSI)

    def __init__(self, spec, d_model: int = 200, num_tokens: int | None = None, dropout: float = 0.1,
                 depth: int = 2, num_heads: int = 4, distill_weight: float = 0.1, backbone: str = "dropout",
                 backbone_options: dict | None = None, backbone_epochs: int | None = None,
                 backbone_dropout: float | None = None, coalitions: str = "zero-fill",
                 dynamic_enhancement: bool = True, masked_fusion: bool = True, modality_dropout: float | None = None):
        if num_tokens is None:  # the same number of tokens for every modality, so attention batches over them
            num_tokens = 1 if all(m.kind == "vector" for m in spec.modalities) else 4
        # the backbone first, so that its initial weights do not depend on DREAM's own options (ablations share it)
        pretrained = make_method(backbone, spec, **(backbone_options or {}))
        super().__init__(spec, d_model, num_tokens, dropout)
        num_modalities = spec.num_modalities
        self.num_tokens = num_tokens
        self.distill_weight = distill_weight
        self.dynamic_enhancement = dynamic_enhancement
        self.masked_fusion = masked_fusion
        # optional training-time augmentation: the training loop zero-fills randomly dropped modalities
        self.train_dropout = None if modality_dropout is None else ModalityDropout(modality_dropout)
        self.backbone_name = backbone
        self.backbone_epochs = backbone_epochs
        self.backbone_dropout = backbone_dropout
        self.scores = ContributionScores(pretrained, coalitions)
        self.enhance = nn.ModuleList(EnhancementLayer(num_modalities, d_model, num_heads, dropout)
                                     for _ in range(depth))
        self.aware = ModuleAttention(num_modalities, 1, d_model, num_heads, dropout)
        self.aware_norm = ModalityNorm(num_modalities, d_model)
        self.weight_head = nn.Linear(num_modalities * d_model, num_modalities)
        self.head = nn.Linear(d_model, spec.num_classes)
        self.register_buffer("everything", torch.ones(num_modalities, 1, num_modalities, dtype=torch.bool),
                             persistent=False)

    @property
    def backbone(self) -> MultimodalMethod:
        return self.scores.backbone

    # ------------------------------------------------------------------------------------------------ training
    def prepare(self, train, val, config: TrainConfig) -> None:
        """Pre-train the backbone on the blind training split (annotation-free, as DREAM itself), then freeze it.
        A backbone that is frozen already has been pre-trained: it is kept as it is. Sets ``pretrained_here``:
        whether this call trained the backbone (False when it was frozen already or read back from the cache), so
        that a timing of this call can tell a training from a load."""
        backbone = self.backbone
        self.pretrained_here = False
        if not any(parameter.requires_grad for parameter in backbone.parameters()):
            return
        epochs = self.backbone_epochs or min(backbone.recipe.epochs, config.epochs)
        backbone_config = backbone.recipe.updated(
            epochs=epochs, seed=config.seed, device=config.device, progress=config.progress,
            patience=None if self.backbone_epochs else backbone.recipe.patience)
        dropout = backbone.train_dropout if self.backbone_dropout is None else ModalityDropout(self.backbone_dropout)
        blind = BlindBackbone(backbone, self.scores.coalitions, dropout)
        train, val = blind_dataset(train), None if val is None else blind_dataset(val)
        # the ablations and variants of one grid share the pre-trained backbone (mmlib.trained)
        self.pretrained_here = train_once(backbone, f"dream-backbone-{type(backbone).__name__}",
                                          (train, val, dropout, self.scores.coalitions, backbone_config),
                                          lambda: fit(blind, train, val, backbone_config))
        for parameter in backbone.parameters():
            parameter.requires_grad_(False)
        backbone.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()  # frozen: no dropout, no batch statistics
        return self

    def trainable_parameters(self) -> int:
        return sum(p.numel() for name, p in self.named_parameters() if not name.startswith("scores."))

    # ------------------------------------------------------------------------------------------------ forward
    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per-modality tokens from the zero-filled inputs alone (no frame masks: they mark masked frames)."""
        return {name: encoder(batch.x[name], None) for name, encoder in self.encoders.items()}

    def enhanced_states(self, tokens: dict[str, torch.Tensor], pss: torch.Tensor) -> torch.Tensor:
        """Section 3.4: B x M x T x d, the modalities with PSS = 0 (all, without dynamic enhancement) enhanced."""
        states = torch.stack([tokens[name] for name in self.spec.modality_names], 1)
        targets = (pss == 0) if self.dynamic_enhancement else torch.ones_like(pss, dtype=torch.bool)
        targets = targets[:, :, None, None]
        for layer in self.enhance:  # D repetitions (Eq. 9 each)
            states = torch.where(targets, layer(states), states)
        return states

    def fuse(self, tokens: dict[str, torch.Tensor], pss: torch.Tensor):
        """Sections 3.4-3.5 from DREAM's tokens and the per-sample PSS (B x M). DREAM takes no presence matrix: its
        fusion is conditioned on the PSS instead. Returns logits, fused features H and the preliminary weights w (a
        distribution over modalities, B x M; :meth:`fusion_weights` turns them into the final w')."""
        states = self.enhanced_states(tokens, pss)
        aware = self.aware_norm(states + self.aware(states, self.everything)[:, :, 0])
        h = aware.mean(2)  # B x M x d: modality-aware representations h_i
        weights = torch.softmax(self.weight_head(h.flatten(1)), -1)  # preliminary fusion weights w (a distribution)
        features = (self.fusion_weights(weights, pss).unsqueeze(-1) * h).sum(1)  # Eq. 11
        return self.head(features), features, weights

    def fusion_weights(self, weights: torch.Tensor, pss: torch.Tensor) -> torch.Tensor:
        """The final fusion weights w' from the preliminary ones w (B x M): Eq. 10, or w itself without MMFM."""
        return soft_mask_weights(weights, pss) if self.masked_fusion else weights

    def forward(self, batch: Batch) -> MethodOutput:
        pss, pas, _ = self.scores(batch, with_accuracy=self.training and self.masked_fusion)
        tokens = self.encode(batch)
        logits, features, weights = self.fuse(tokens, pss)
        losses = {}
        if pas is not None and self.distill_weight > 0:  # Eq. 12-13
            target = torch.softmax(pas, -1)
            log_weights = torch.log(weights.clamp_min(torch.finfo(weights.dtype).tiny))
            losses["distillation"] = self.distill_weight * F.kl_div(log_weights, target, reduction="batchmean")
        return MethodOutput(logits, losses, features, tokens)

    @torch.no_grad()
    def subset_logits(self, batch: Batch, members: torch.Tensor | None = None, tokens=None) -> torch.Tensor:
        """DREAM's logits under each subset of ``members`` (K x M; default all 2^M), each subset formed by
        zero-filling the inputs of the modalities outside it: B x K x C."""
        members = subsets(self.spec.num_modalities) if members is None else members
        members = members.to(batch.y.device)
        num_subsets = members.shape[0]
        x = {}
        for i, (name, value) in enumerate(batch.x.items()):
            keep = members[:, i].to(value.dtype).view(1, num_subsets, *([1] * (value.dim() - 1)))
            x[name] = (value.unsqueeze(1) * keep).flatten(0, 1)
        repeated = Batch(x, torch.ones(len(batch) * num_subsets, len(x), dtype=torch.bool, device=batch.y.device),
                         batch.y.repeat_interleave(num_subsets), {})
        was_training = self.training
        self.eval()
        try:
            logits = self(repeated).logits
        finally:
            self.train(was_training)
        return logits.view(len(batch), num_subsets, -1)
