"""MCE: Modality Capability Enhancement under imbalanced missing rates (Zhao, Zhang and Zou, Pattern Recognition
2025).

The network (Eq. 2): one encoder per modality, pooled to a feature h_m (B x d); the reconstruction module of
Eq. 15 over the stacked features of all M modalities (zeros where absent) plus a learnable positional encoding
E_pos, which thereby doubles as the mask token of an absent modality; then the fusion and decoder. MCE adds:

- Learning Capability Enhancement (LCE): the dataset-level factor A (Eq. 3) from the training split's presence,
  normalised by its mean (Sec. 3.2.1); the batch-level factor B (Eq. 4-8): per-sample Shapley values over the
  sample's *available* modalities with the 0/1 accuracy as coalition value (Eq. 4-5), against U_m, the summed
  accuracy on the batch of a frozen unimodal model trained on modality m's available training data (Eq. 6),
  B_m = max(U_m - phi_m, 0) / (number of samples in the batch with m present) (Eq. 7-8).
- Representation Capability Enhancement (RCE): L_single, a decoder per modality on its own feature, weighted by
  A_m B_m (Eq. 9); L_sub, the task loss of every non-empty subset present in the batch, averaged per subset over
  its feasible samples and then over subsets (Eq. 10-11); L_aux, the distance between the reconstruction module's
  output for each dropped modality and that modality's encoder feature, from every subset (Eq. 12-13), weighted
  by A_m B_m. Total Eq. 14: L_task + lambda_single L_single + lambda_sub L_sub + lambda_aux L_aux.

Where the paper leaves a choice open, the choice made here:

- Fusion: ``concat`` (the default) concatenates the M completed features and decodes with a two-layer MLP (FC,
  GELU, dropout, FC): the paper's AudiovisionMNIST decoder ("a FC layer with ReLU activation, followed by another FC
  layer"), with the library's GELU. The paper's IEMOCAP decoder is deeper (two FC layers with ReLU and batch
  normalisation, then an FC); it is not built here, every dataset gets the same decoder; ``mean`` averages
  them. Both read the reconstruction module's output, so the fusion is swappable without touching MCE's losses.
- Eq. 15 is implemented by :class:`mmlib.nn.Block` (self-attention and FFN with residuals, pre-norm), one layer;
  the paper's equation prints no residual around the attention and no normalisation; a pre-norm block is the
  standard, stable form of the same computation.
- Eq. 4's v(empty set) is 0: with no modality there is no evidence to credit (the model would otherwise be paid
  for its bias on the majority class), so by efficiency a sample's Shapley values sum to v(M_n).
- The coalition values are the 0/1 accuracies of the same batched forward pass over all subsets that computes
  L_sub and L_aux (in training mode), so exact Shapley costs no extra forward pass; with ``shapley="monte_carlo"``
  they come from a separate no-grad pass over the subsets visited by ``num_permutations`` random orders
  (:func:`mmlib.shapley.monte_carlo_shapley`; the paper's Sec. 5 uses K = 100).
- Eq. 13's ||h'_m - h_m|| is the Euclidean norm per sample; the target h_m is detached, so reconstruction trains
  the reconstruction module without pulling the encoders towards features that are easy to predict.
- Eq. 9 and Eq. 11's rho is the cross-entropy, averaged over the samples where the modality (subset) is present.
- U_m (Eq. 6): a unimodal model (the same encoder kind, pooled, a linear decoder) trained in ``prepare`` for
  ``unimodal_epochs`` epochs with Adam on the training samples where m is present, then frozen; kept by
  :func:`mmlib.trained.train_once`, so runs that differ only in MCE's options (the ablations, the lambda sweeps)
  train them once. U_m is scored on the training batch itself, so on the very samples the unimodal model was
  trained on (the paper does not say on which data; the authors' code too scores U_m on the training batch, in
  ``MCEModel.backward``); the MCE chapter's Table 6
  notebook measures B with U_m scored on held-out samples beside it. As in the paper's Table 6, U_m, phi_m are
  batch sums and B_m is normalised by the batch count of m.
- The lambdas default to (1, 2, 1) for (single, sub, aux): the "optimal setting" of the paper's Fig. 6.
- Recipe: Adam, lr 1e-3, batch 128 (the paper's AudiovisionMNIST recipe, Table 1), 60 epochs (IEMOCAP's), no
  step decay (the training loop has none); models are small and trained from scratch.

Ablation switches (Table 2): ``use_a``, ``use_b`` (off: the factor is 1) and the three lambdas (0 switches a loss
off). ``shapley_variant="code"`` replaces Eq. 5 by the batch values of the authors' published code
(:func:`code_variant_shapley`: counts summed over the batch, marginals v(T) - v({i}) against the modality alone, a
v({i})/L term, L the number of modalities present in the batch).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..nn import Block, make_encoder, mlp, pool
from ..shapley import exact_shapley, monte_carlo_shapley, restrict_to, subsets
from ..train import TrainConfig
from ..trained import train_once
from .base import MethodOutput, MultimodalMethod
from .registry import register

FUSIONS = ("concat", "mean")
SHAPLEY = ("exact", "monte_carlo")
VARIANTS = ("paper", "code")


def dataset_factor(present: torch.Tensor) -> torch.Tensor:
    """Eq. 3, A_m = N / sum_n E_{n,m}, normalised by its mean (Sec. 3.2.1). ``present`` N x M bool."""
    counts = present.sum(0).double().clamp_min(1)
    factor = len(present) / counts
    return (factor / factor.mean()).float()


def code_variant_shapley(table: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """phi (M) of the authors' code in place of Eq. 5 (repository byzhaoAI/MCE, emotion_recog/models/mce_model.py,
    ``MCEModel.backward`` and ``shapley_value``), batch-level. ``table`` B x 2^M: v_n(T), the 0/1 accuracy of the
    fusion fed T (:func:`mmlib.shapley.subsets` order); ``present`` B x M.

    The code counts, for each non-empty coalition T, the samples whose available set contains T and that the fusion
    fed T alone gets right, c(T) = sum_n 1[T within M_n] v_n(T): one count per coalition over the batch, where
    Eq. 5 plays one game per sample. With L the number of modalities present in at least one sample of the batch
    (where Eq. 5 has each sample's |M_n|), modality i gets

        phi_i = c({i}) / L + sum_{T containing i, |T| >= 2} (|T| - 1)! (L - |T|)! / L! [c(T) - c({i})]:

    the term c({i})/L is Eq. 5's S = {} term (with v({}) = 0), but every other marginal is taken against the
    modality alone, v(T) - v({i}), where Eq. 5 has v(S u {i}) - v(S), and c(T) and c({i}) count different samples
    (those that have all of T, those that have i). Where a modality is absent from the whole batch (L < M) the
    code stops (a factorial of a negative number for the largest coalitions); here the coalitions are then those
    of the L modalities present, and an absent modality gets 0. The code takes v_n(M_n) from the main forward pass;
    here it comes from the subset pass, which in training draws its own dropout."""
    num_players = present.shape[1]
    members = subsets(num_players).to(present.device)  # 2^M x M
    within = ~(members.unsqueeze(0) & ~present.unsqueeze(1)).any(-1)  # B x 2^M: T within M_n
    counts = (table.double() * within).sum(0)  # c(T)
    in_batch = present.any(0)
    players = in_batch.sum().double().clamp_min(1)  # L
    size = members.sum(1).double()
    usable = ~(members & ~in_batch).any(1) & (size >= 2)  # coalitions of >= 2 of the L modalities present
    # (|T| - 1)! (L - |T|)! / L!: the Shapley weight of S = T minus i, |S| = |T| - 1
    weight = torch.exp(torch.lgamma(size.clamp_min(1)) + torch.lgamma((players - size + 1).clamp_min(1))
                       - torch.lgamma(players + 1))
    weight = torch.where(usable, weight, torch.zeros_like(weight))  # 2^M
    singles = counts[[1 << i for i in range(num_players)]]  # c({i})
    contains = members.T.double()  # M x 2^M
    phi = singles / players + (contains * weight * (counts.unsqueeze(0) - singles.unsqueeze(1))).sum(1)
    return (phi * in_batch).to(table.dtype if table.is_floating_point() else torch.float32)


def learning_state_factor(shapley: torch.Tensor, upper: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Eq. 7-8: B_m = 1[Delta_m > 0] Delta_m / sum_n E_{n,m}, with Delta_m = U_m - phi_m. All three are batch-level
    (M): phi_m and U_m summed over the batch, ``counts`` the number of samples in the batch with m present."""
    gap = upper - shapley  # Eq. 7
    return torch.where((gap > 0) & (counts > 0), gap / counts.clamp_min(1), torch.zeros_like(gap))  # Eq. 8


def batch_subsets(present: torch.Tensor) -> torch.Tensor:
    """Eq. 10: the non-empty subsets S with S contained in some sample's available set, (K x M) bool, in
    :func:`mmlib.shapley.subsets` order."""
    members = subsets(present.shape[1]).to(present.device)[1:]
    feasible = (members.unsqueeze(0) & ~present.unsqueeze(1)).any(-1).logical_not()  # B x (2^M - 1)
    return members[feasible.any(0)]


class Unimodal(nn.Module):
    """f_dec^{m,pt}(f_enc^{m,pt}(x_m)) of Eq. 6: an encoder of the modality's kind, pooled, a linear decoder."""

    def __init__(self, modality, d_model: int, num_classes: int, num_tokens=None, dropout: float = 0.1):
        super().__init__()
        self.encoder = make_encoder(modality, d_model, num_tokens, dropout)
        self.decoder = nn.Linear(d_model, num_classes)

    def forward(self, x, frame_mask=None):
        return self.decoder(pool(self.encoder(x, frame_mask)))


def _fit_unimodal(model: nn.Module, name: str, available, epochs: int, config: TrainConfig, device) -> None:
    """Eq. 6's model trained on the samples where its modality is present, with Adam at the run's lr."""
    generator = torch.Generator().manual_seed(config.seed)
    model.requires_grad_(True)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    for _ in range(epochs):
        for batch in available.batches(config.batch_size, shuffle=True, generator=generator):
            batch = batch.to(device)
            loss = F.cross_entropy(model(batch.x[name], batch.frame_mask.get(name)), batch.y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


@register
class MCE(MultimodalMethod):
    name = "mce"
    recipe = TrainConfig(epochs=60, batch_size=128, lr=1e-3, optimizer="adam")

    def __init__(self, spec, d_model: int = 64, num_tokens=None, dropout: float = 0.1, fusion: str = "concat",
                 lambda_single: float = 1.0, lambda_sub: float = 2.0, lambda_aux: float = 1.0,
                 use_a: bool = True, use_b: bool = True, shapley: str = "exact", num_permutations: int = 100,
                 shapley_variant: str = "paper", unimodal_epochs: int = 10, num_heads: int = 4):
        super().__init__(spec, d_model, num_tokens, dropout)
        if fusion not in FUSIONS or shapley not in SHAPLEY or shapley_variant not in VARIANTS:
            raise ValueError(f"fusion must be one of {FUSIONS}, shapley one of {SHAPLEY}, shapley_variant one of "
                             f"{VARIANTS}; got {fusion!r}, {shapley!r}, {shapley_variant!r}")
        if shapley == "monte_carlo" and shapley_variant != "paper":
            raise ValueError("the Monte-Carlo estimate is of Eq. 5; use shapley_variant='paper' with it")
        self.fusion_kind, self.shapley, self.shapley_variant = fusion, shapley, shapley_variant
        self.lambda_single, self.lambda_sub, self.lambda_aux = lambda_single, lambda_sub, lambda_aux
        self.use_a, self.use_b = use_a, use_b
        self.num_permutations, self.unimodal_epochs = num_permutations, unimodal_epochs
        num_modalities, num_classes = spec.num_modalities, spec.num_classes
        self.positional = nn.Parameter(torch.randn(1, num_modalities, d_model) * 0.02)  # E_pos of Eq. 15
        self.reconstruction = Block(d_model, num_heads, dropout)  # f_rec, Eq. 15
        fused_dim = num_modalities * d_model if fusion == "concat" else d_model
        self.head = mlp(fused_dim, 2 * d_model, num_classes, dropout)  # f_dec
        self.single_heads = nn.ModuleList(nn.Linear(d_model, num_classes) for _ in range(num_modalities))  # Eq. 9
        self.unimodal = nn.ModuleList(Unimodal(m, d_model, num_classes, num_tokens, dropout) for m in spec.modalities)
        self.register_buffer("factor_a", torch.ones(num_modalities))
        self.last_factors: dict[str, torch.Tensor] = {}  # the latest batch's U, phi, B, counts (Table 6)

    # --- the network -------------------------------------------------------------------------------------------
    def features(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        """h_{n,m} of Eq. 2: pooled per-modality features, stacked (B x M x d)."""
        return torch.stack([pool(tokens[name]) for name in self.spec.modality_names], 1)

    def complete(self, features: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Eq. 15: zeros at absent positions, + E_pos (the mask token there), self-attention and FFN."""
        return self.reconstruction(features * present.unsqueeze(-1) + self.positional)

    def decode(self, completed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fused = completed.flatten(1) if self.fusion_kind == "concat" else completed.mean(1)
        return self.head(fused), fused

    def fuse(self, tokens, present):
        return self.decode(self.complete(self.features(tokens), present))

    # --- LCE -----------------------------------------------------------------------------------------------------
    def prepare(self, train, val, config: TrainConfig) -> None:
        """Eq. 3 on the training split, and the frozen unimodal models of Eq. 6, each trained on the training
        samples where its modality is present (skipped when B is switched off)."""
        self.factor_a.copy_(dataset_factor(train.present).to(self.factor_a.device))
        device = self.factor_a.device
        self.unimodal.requires_grad_(False)
        if not self.use_b:
            return  # U_m only enters B
        for index, (name, model) in enumerate(zip(self.spec.modality_names, self.unimodal)):
            available = train.subset(torch.nonzero(train.present[:, index]).flatten())
            # runs that differ only in MCE's own options (ablations, loss weights) share these models
            train_once(model, f"mce-unimodal-{name}",
                       (available.x[name], available.frame_mask.get(name), available.y, self.unimodal_epochs,
                        config.lr, config.batch_size, config.seed),
                       lambda: _fit_unimodal(model, name, available, self.unimodal_epochs, config, device))
            model.eval()
            model.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.unimodal.eval()  # frozen (Eq. 6): no dropout either
        return self

    @torch.no_grad()
    def upper_bounds(self, batch) -> torch.Tensor:
        """Eq. 6 per sample: the frozen unimodal model's 0/1 accuracy, zero where the modality is absent (B x M). In
        training the batch is training data, which the unimodal models were trained on."""
        correct = [model(batch.x[name], batch.frame_mask.get(name)).argmax(-1) == batch.y
                   for name, model in zip(self.spec.modality_names, self.unimodal)]
        return (torch.stack(correct, 1) & batch.present).float()

    def batch_shapley(self, batch, table: torch.Tensor | None = None, tokens=None) -> torch.Tensor:
        """phi_m of Eq. 5 (M), the per-sample values summed over the batch; with ``shapley_variant="code"``, the
        authors' code's batch values (:func:`code_variant_shapley`), which are not a sum of per-sample values."""
        if self.shapley_variant == "code":
            table = self.coalition_values(batch, tokens) if table is None else table
            return code_variant_shapley(table, batch.present).float()
        return self.shapley_values(batch, table, tokens).sum(0)

    def shapley_values(self, batch, table: torch.Tensor | None = None, tokens=None) -> torch.Tensor:
        """Eq. 5 per sample (B x M; the batch phi_m is the column sum): Shapley values of the game v_n over the
        sample's available modalities. ``table``: the B x 2^M coalition values if already computed."""
        if self.shapley_variant == "code":
            raise ValueError("the code's Shapley variant has batch values only: use batch_shapley")
        present = batch.present
        if self.shapley == "monte_carlo":
            tokens = self.encode(batch) if tokens is None else tokens

            def value(members):
                correct = self.subset_logits(batch, members, tokens).argmax(-1) == batch.y.unsqueeze(1)
                nonempty = (present.unsqueeze(1) & members.to(present.device).unsqueeze(0)).any(-1)
                return (correct & nonempty).float()

            generator = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 31, (1,))))
            return monte_carlo_shapley(value, self.spec.num_modalities, self.num_permutations, generator)
        if table is None:
            table = self.coalition_values(batch, tokens)
        game = restrict_to(table, present)  # absent modalities become null players: Eq. 5's sum over M_n
        return exact_shapley(game).float() * present

    @torch.no_grad()
    def coalition_values(self, batch, tokens=None) -> torch.Tensor:
        """Eq. 4: v_n(S) for all 2^M subsets (B x 2^M), v_n(S) = v_n(S & M_n), v(empty) = 0."""
        table = self.subset_accuracy(batch, tokens)
        table[:, 0] = 0.0
        return table

    # --- RCE and the total ----------------------------------------------------------------------------------------
    def forward(self, batch) -> MethodOutput:
        tokens = self.encode(batch)
        features = self.features(tokens)
        present = batch.present
        logits, fused = self.decode(self.complete(features, present))
        if not self.training:
            return MethodOutput(logits, {}, fused, tokens)

        # one batched pass over every non-empty subset: S & M_n for each sample (Eq. 10-13 and the values of Eq. 4)
        members = subsets(self.spec.num_modalities).to(present.device)[1:]  # K x M
        num_subsets = members.shape[0]
        kept = present.unsqueeze(1) & members.unsqueeze(0)  # B x K x M
        feasible = ~(members.unsqueeze(0) & ~present.unsqueeze(1)).any(-1)  # B x K: S within M_n (N_S of Eq. 11)
        needs_pass = self.lambda_sub > 0 or self.lambda_aux > 0
        losses = {}
        table = None
        if needs_pass:
            repeated = features.unsqueeze(1).expand(-1, num_subsets, -1, -1).flatten(0, 1)
            completed = self.complete(repeated, kept.flatten(0, 1))
            sub_logits = self.decode(completed)[0].view(len(batch), num_subsets, -1)
            occurring = feasible.any(0)  # S_batch, Eq. 10
            if self.lambda_sub > 0:  # Eq. 11
                per_sample = F.cross_entropy(sub_logits.transpose(1, 2), batch.y.unsqueeze(1).expand(-1, num_subsets),
                                             reduction="none")  # B x K
                per_subset = (per_sample * feasible).sum(0) / (feasible.sum(0) + 1e-6)
                losses["sub"] = self.lambda_sub * per_subset[occurring].mean()
            with torch.no_grad():
                correct = (sub_logits.argmax(-1) == batch.y.unsqueeze(1)).float()
                table = torch.cat([torch.zeros_like(correct[:, :1]), correct], 1)  # v(empty) = 0; v(S & M_n)

        weights = self.capability_weights(batch, table, tokens)  # A_m B_m
        if self.lambda_single > 0:  # Eq. 9
            terms = []
            for index, head in enumerate(self.single_heads):
                rows = present[:, index]
                if rows.any() and weights[index] > 0:
                    terms.append(weights[index] * F.cross_entropy(head(features[rows, index]), batch.y[rows]))
            losses["single"] = self.lambda_single * (torch.stack(terms).sum() if terms else features.sum() * 0)
        if self.lambda_aux > 0:  # Eq. 12-13
            completed = completed.view(len(batch), num_subsets, *features.shape[1:])
            error = (completed - features.detach().unsqueeze(1)).norm(dim=-1)  # B x K x M, ||h'_m - h_m||
            dropped = (present.unsqueeze(1) & ~members.unsqueeze(0)) & feasible.unsqueeze(-1)  # S_drop^(n,S)
            per_sample = (error * dropped * weights).sum(-1) / (dropped.sum(-1) + 1e-6)  # B x K
            per_subset = (per_sample * feasible).sum(0) / feasible.sum(0).clamp_min(1)
            losses["aux"] = self.lambda_aux * per_subset[feasible.any(0)].mean()
        return MethodOutput(logits, losses, fused, tokens)

    def capability_weights(self, batch, table=None, tokens=None) -> torch.Tensor:
        """A_m B_m (M), the weights of Eq. 9 and Eq. 13; a factor switched off is 1. Records U, phi, B."""
        factor_a = self.factor_a if self.use_a else torch.ones_like(self.factor_a)
        if not self.use_b:
            return factor_a
        with torch.no_grad():
            upper = self.upper_bounds(batch).sum(0)  # U_m of Eq. 6, on the batch (the unimodal models' training data)
            shapley = self.batch_shapley(batch, table, tokens)
            counts = batch.present.sum(0).float()
            factor_b = learning_state_factor(shapley, upper, counts)
        self.last_factors = {"count": counts, "upper": upper, "shapley": shapley, "gap": upper - shapley,
                             "B": factor_b}
        return factor_a * factor_b
