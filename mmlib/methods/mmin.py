"""MMIN: the Missing Modality Imagination Network (Zhao, Li and Jin, ACL 2021), the comparator that MCE's Table 5
runs as "the baseline and the base backbone" on IEMOCAP (MCE, Pattern Recognition 2025, ref. [49]).

The MMIN paper is not in the project's papers; this follows its authors' code (github.com/AIM3-RUC/MMIN:
``models/mmin_model.py``, ``models/networks/autoencoder.py``, ``data/multimodal_miss_dataset.py``,
``scripts/CAP_mmin.sh``) and the copy the MCE authors ran for Table 5 (github.com/byzhaoAI/MCE:
``emotion_recog/models/mmin_model.py``, ``emotion_recog/train_miss.py``, ``emotion_recog/IEMOCAP_MCE.sh``).

The network (``MMINModel.forward``):

1. one encoder per modality (the library's encoders, :func:`mmlib.nn.make_encoder`, pooled to h_m in R^d; MMIN's
   are an LSTM with max-pooling for acoustic and visual frames and a TextCNN for words, 128 dimensions each);
   the representations are concatenated, h = [h_1, ..., h_M] (``feat_fusion_miss``);
2. the imagination module, a cascade residual autoencoder (CRA, ``ResidualAE``): n_blocks autoencoders, block i
   reads the sum of the input and all earlier blocks' outputs, x_i = x_{i-1} + o_{i-1} (x_1 = h, o_0 = 0),
   c_i = enc_i(x_i), o_i = dec_i(c_i); the imagined representation is h' = T(x_n + o_n), T a two-layer transition
   MLP (:class:`CascadeResidualAE`);
3. backward imagination: a second CRA of the same shape (``netAE_cycle``; shared weights only with
   ``share_weight=True``) maps h' back, h'' = CRA_cycle(h');
4. the classifier reads the joint representation R = [c_1, ..., c_n], the latent vectors of the forward CRA's blocks
   (``netC(self.latent)``, an MLP with ReLU and dropout, ``FcClassifier``). Neither the encoders' outputs nor the
   imagined h' enter the classifier directly: h' is trained by the two imagination losses only.

The losses (``MMINModel.backward``), the task loss L_CE added by the training loop:

- forward imagination, ``forward_weight * MSE(h', t)``: t is the representation of the *missing* modalities by the
  pre-trained full-modality model's encoders (the "teacher", ``T_embds``), computed on the "reverse" input, the
  missing modalities' real inputs with the available ones blanked; the teacher's representation of a blanked
  modality is 0 here (see below), so t holds the teacher's h_m where m is missing and 0 where m is available;
- backward (cycle) imagination, ``cycle_weight * MSE(h'', h.detach())``: the cycle must give back the available
  representation, zeros at the missing modalities included.

**Missing conditions in training** (``data/multimodal_miss_dataset.py``): MMIN trains on complete data and puts
every training sample, at every step, under one of the 2^M - 2 missing conditions (for three modalities the six of
``azz, zvz, zzl, avz, azl, zvl``), drawn uniformly; the full condition is never trained on. The reverse input is
then known, so every missing modality has its teacher target. In this book the training split has missing
modalities of its own (MCE's imbalanced rates): with ``conditions="mmin"`` (the default) each sample is put, at
every step, under a condition drawn uniformly among the 2^k - 2 proper non-empty subsets of its k available
modalities (MMIN's six for a complete sample; a sample with one modality keeps it). Only the modalities dropped
this way have a teacher target; a modality absent from the data has none, and its positions are left out of the
forward loss. ``conditions="data"`` trains on the data's own pattern, as the MCE authors' runs of MMIN do
(``train_miss.py`` sets ``missing_index`` from the rates' pattern, no other condition); nothing available is
dropped then, so the forward loss has no target and must be off (``forward_weight=0``).

**The teacher** (``load_pretrained_encoder``, ``scripts/CAP_utt_fusion.sh``): MMIN pre-trains a full-modality
"utterance fusion" model (the concatenated encoder outputs into an MLP classifier) whose frozen encoders give the
forward targets, and whose encoders initialise MMIN's (``post_process``). Here it is the library's ``concat``
baseline (same encoders, an MLP head), pre-trained in :meth:`MMIN.prepare` on the training split as it is (no
complete training split exists under MCE's rates) with ``concat``'s recipe, as many epochs as the run (at most
its recipe's 30) with its own early stopping on the validation split, then frozen; kept by
:func:`mmlib.trained.train_once`, so MMIN's variants share it. ``init_from_teacher`` copies its encoders into MMIN's.

**What the MCE authors ran** (their ``mmin_model.py``): the teacher is never loaded, the encoders are not
initialised from it, and the forward loss is multiplied by 0 (``self.loss_mse = self.mse_weight * 0``): Table 5's
MMIN is trained on L_CE + 2 L_cycle alone, on the data's pattern. ``MMIN(spec, forward_weight=0,
init_from_teacher=False, conditions="data")`` is that run (:data:`MCE_CODE`); no teacher is trained then.

Choices where the code or this library leaves one open:

- An absent (or dropped) modality's representation is 0 (as the library's ``concat`` baseline), where MMIN's code
  encodes a zero-filled input (an LSTM's output on zeros, not 0). So the outputs never depend on an absent
  modality's input, and the teacher target of an available modality is 0, where the code's is the teacher's
  encoding of zeros (a constant either way).
- The forward MSE is the mean over the positions that have a target (available and dropped modalities); the code's
  is over all positions, since every modality has a target on complete data. The cycle MSE is over all positions.
- Sizes and weights: the authors' IEMOCAP defaults (``scripts/CAP_mmin.sh``): CRA layers (256, 128, 64), 5 blocks,
  no dropout in the CRA; classifier (128, 128) with dropout 0.5; forward weight 4, cycle weight 2. Encoder width is
  the library's ``d_model`` (the chapter's), not MMIN's 128 per modality.
- Recipe (``CAP_mmin.sh``): Adam, lr 2e-4, weight decay 1e-5, batch 128, 60 epochs, gradient clipping at 1.0. MMIN
  keeps lr for 30 epochs and decays it linearly to 0 over 30 more, and runs Adam with beta1 = 0.5
  (``opts/train_opts.py``); the library's loop has neither (lr constant, torch's betas (0.9, 0.999)). The MCE
  authors train MCE on IEMOCAP with the same lr, weight decay, batch and epochs (``IEMOCAP_MCE.sh``). Selection:
  the authors' ``train_miss.py`` keeps the epoch of best validation macro-F1; here, the library's rule (best
  validation accuracy under the experiment's protocol), as for every compared model.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..nn import pool
from ..shapley import subsets
from ..train import TrainConfig, fit
from ..trained import train_once
from .base import MethodOutput, MultimodalMethod
from .registry import make_method, register

__all__ = ["MMIN", "CascadeResidualAE", "training_conditions", "forward_target", "MCE_CODE"]

CONDITIONS = ("mmin", "data")
#: the options of the MMIN that the MCE authors ran for Table 5 (no teacher, forward loss 0, the data's pattern)
MCE_CODE = {"forward_weight": 0.0, "init_from_teacher": False, "conditions": "data"}


class CascadeResidualAE(nn.Module):
    """MMIN's cascade residual autoencoder (``ResidualAE``, without dropout or batch normalisation as MMIN builds
    it): ``forward(x)`` returns (h', [c_1, ..., c_n]), the transition of the last block's residual sum and the
    blocks' latent vectors concatenated (B x n * layers[-1])."""

    def __init__(self, input_dim: int, layers: tuple[int, ...] = (256, 128, 64), num_blocks: int = 5):
        super().__init__()
        self.transition = nn.Sequential(nn.Linear(input_dim, input_dim), nn.ReLU(), nn.Linear(input_dim, input_dim))
        self.encoders = nn.ModuleList(self._encoder(input_dim, layers) for _ in range(num_blocks))
        self.decoders = nn.ModuleList(self._decoder(input_dim, layers) for _ in range(num_blocks))

    @staticmethod
    def _encoder(input_dim, layers):
        """input -> layers[0] -> ... -> layers[-1], LeakyReLU between, none after the last (``get_encoder``)."""
        sizes, parts = (input_dim, *layers), []
        for i in range(len(layers)):
            parts += [nn.Linear(sizes[i], sizes[i + 1]), nn.LeakyReLU()]
        return nn.Sequential(*parts[:-1])

    @staticmethod
    def _decoder(input_dim, layers):
        """layers[-1] -> ... -> layers[0] -> input, ReLU between, none after the last (``get_decoder``)."""
        sizes, parts = (*reversed(layers), input_dim), []
        for i in range(len(sizes) - 1):
            parts += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU()]
        return nn.Sequential(*parts[:-1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_in, x_out, latents = x, torch.zeros_like(x), []
        for encoder, decoder in zip(self.encoders, self.decoders):
            x_in = x_in + x_out
            latent = encoder(x_in)
            x_out = decoder(latent)
            latents.append(latent)
        return self.transition(x_in + x_out), torch.cat(latents, -1)


def training_conditions(present: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """MMIN's missing conditions for one step (B x M bool): per sample, a subset drawn uniformly among the proper
    non-empty subsets of its available modalities (``present``); a sample with one modality keeps it."""
    members = subsets(present.shape[1]).to(present.device)  # 2^M x M
    within = ~(members.unsqueeze(0) & ~present.unsqueeze(1)).any(-1)  # B x 2^M: subset of the available ones
    proper = within & members.any(-1) & (members != present.unsqueeze(1)).any(-1)
    allowed = torch.where(proper.any(1, keepdim=True), proper, within & members.any(-1))
    weights = allowed.float().cpu()
    weights[~allowed.cpu().any(1), 0] = 1.0  # a sample with nothing keeps nothing
    choice = torch.multinomial(weights, 1, generator=generator).squeeze(1).to(present.device)
    return members[choice]


def forward_target(teacher_features: torch.Tensor, kept: torch.Tensor, present: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward imagination target t (B x M x d) and where it is defined (B x M bool): the teacher's
    representation of each modality dropped by the condition (present in the data, not kept), 0 for a kept one;
    a modality absent from the data has no target."""
    dropped = present & ~kept
    return teacher_features * dropped.unsqueeze(-1), present


@register
class MMIN(MultimodalMethod):
    name = "mmin"
    recipe = TrainConfig(epochs=60, batch_size=128, lr=2e-4, weight_decay=1e-5, optimizer="adam", grad_clip=1.0)

    def __init__(self, spec, d_model: int = 64, num_tokens=None, dropout: float = 0.1,
                 ae_layers: tuple[int, ...] = (256, 128, 64), num_blocks: int = 5,
                 classifier_layers: tuple[int, ...] = (128, 128), classifier_dropout: float = 0.5,
                 forward_weight: float = 4.0, cycle_weight: float = 2.0, conditions: str = "mmin",
                 init_from_teacher: bool = True, share_weight: bool = False, teacher_epochs: int | None = None):
        if conditions not in CONDITIONS:
            raise ValueError(f"conditions must be one of {CONDITIONS}, got {conditions!r}")
        if conditions == "data" and forward_weight > 0:
            raise ValueError("with conditions='data' no available modality is dropped, so forward imagination has no "
                             "target (the data's missing modalities have none): use forward_weight=0 (MCE_CODE)")
        # the teacher first, so that its initial weights do not depend on MMIN's own options (variants share it)
        teacher = make_method("concat", spec, d_model=d_model, num_tokens=num_tokens, dropout=dropout)
        super().__init__(spec, d_model, num_tokens, dropout)
        self.uses_teacher = forward_weight > 0 or init_from_teacher
        self.teacher = teacher if self.uses_teacher else None
        self.forward_weight, self.cycle_weight = forward_weight, cycle_weight
        self.conditions, self.init_from_teacher, self.teacher_epochs = conditions, init_from_teacher, teacher_epochs
        width = spec.num_modalities * d_model
        self.imagination = CascadeResidualAE(width, tuple(ae_layers), num_blocks)  # netAE
        self.cycle = self.imagination if share_weight else CascadeResidualAE(width, tuple(ae_layers), num_blocks)
        sizes, parts = (ae_layers[-1] * num_blocks, *classifier_layers), []
        for i in range(len(classifier_layers)):
            parts += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU(), nn.Dropout(classifier_dropout)]
        self.classifier = nn.Sequential(*parts, nn.Linear(sizes[-1], spec.num_classes))  # netC

    # ------------------------------------------------------------------------------------------------ training
    def prepare(self, train, val, config: TrainConfig) -> None:
        """Pre-train the full-modality teacher (``concat``) on the training split, freeze it, and initialise MMIN's
        encoders from its encoders (MMIN's ``post_process``). A frozen teacher is kept as it is."""
        teacher = self.teacher
        if teacher is None or not any(p.requires_grad for p in teacher.parameters()):
            return
        epochs = self.teacher_epochs or min(teacher.recipe.epochs, config.epochs)
        teacher_config = teacher.recipe.updated(epochs=epochs, seed=config.seed, device=config.device,
                                                progress=config.progress,
                                                patience=None if self.teacher_epochs else teacher.recipe.patience)
        train_once(teacher, "mmin-teacher", (train, val, teacher_config),
                   lambda: fit(teacher, train, val, teacher_config))
        teacher.requires_grad_(False)
        teacher.eval()
        if self.init_from_teacher:
            self.encoders.load_state_dict(teacher.encoders.state_dict())

    def train(self, mode: bool = True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # frozen
        return self

    # ------------------------------------------------------------------------------------------------ the network
    def representation(self, tokens: dict[str, torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """h = [h_1, ..., h_M] (B x M x d): pooled encoder outputs, 0 where a modality is absent."""
        stacked = torch.stack([pool(tokens[name]) for name in self.spec.modality_names], 1)
        return stacked * present.unsqueeze(-1).to(stacked.dtype)

    def fuse(self, tokens, present):
        """Logits from the classifier on the forward CRA's latent vectors R = [c_1..c_n], and R."""
        _, latents = self.imagination(self.representation(tokens, present).flatten(1))
        return self.classifier(latents), latents

    @torch.no_grad()
    def teacher_features(self, batch) -> torch.Tensor:
        """The teacher's pooled representation of every modality's real input (B x M x d)."""
        tokens = self.teacher.encode(batch)
        return torch.stack([pool(tokens[name]) for name in self.spec.modality_names], 1)

    def condition(self, present: torch.Tensor) -> torch.Tensor:
        """The modalities a training step keeps (B x M): MMIN's random missing condition, or the data's."""
        return training_conditions(present) if self.conditions == "mmin" else present

    def forward(self, batch) -> MethodOutput:
        tokens = self.encode(batch)
        present = batch.present
        if not self.training:
            logits, latents = self.fuse(tokens, present)
            return MethodOutput(logits, {}, latents, tokens)
        kept = self.condition(present)
        h = self.representation(tokens, kept)  # B x M x d
        imagined, latents = self.imagination(h.flatten(1))
        logits = self.classifier(latents)
        losses = {}
        if self.forward_weight > 0:
            target, defined = forward_target(self.teacher_features(batch), kept, present)
            mask = defined.unsqueeze(-1).expand_as(h)
            error = (imagined.view_as(h) - target).square()
            losses["forward"] = self.forward_weight * error[mask].mean() if mask.any() else imagined.sum() * 0
        if self.cycle_weight > 0:
            cycled, _ = self.cycle(imagined)
            losses["cycle"] = self.cycle_weight * F.mse_loss(cycled, h.flatten(1).detach())
        return MethodOutput(logits, losses, latents, tokens)
