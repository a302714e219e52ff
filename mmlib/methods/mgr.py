"""MGR: Multimodal Generalization and Refinement (Huang et al., AAAI 2025), for pervasive modality absence.

Built on the ``transformer`` baseline (:class:`~mmlib.methods.baselines.TransformerFusion`), whose ``embed`` is
Eq. 1 (learned availability / missing embeddings) and whose fusion transformer is Eq. 2. Eq. 1 is the paper's form
by default here (``embedding="paper"``): E_avail^i and E_miss^i are N_i x d, one row per token, and every token gets
its modality's type embedding and its position embedding, as ViLT (which instantiates Eq. 2) adds them in its
embedding layer; ``embedding="modality"`` is the book's first form (one availability vector per modality, no type
or position), which a sequence's order is invisible to. The chapter gives the transformer and MAPs the same form.
With every embedding learned, E_avail + type + position is one learned N_i x d matrix per modality: what matters is
that it is per token, not the split into three. MGR adds:

- unimodal generalization (Eq. 3): a one-block unimodal transformer per modality over that modality's own
  tokens, added with weight ``alpha_u`` to the multimodal tokens of the *available* modalities, and the diversity
  loss (Eq. 4): the squared distance correlation between unimodal and multimodal features, available only;
- ``refine_layers`` (L_T) refinement iterations (Eq. 5-12), each: a mixed-context prompt P (Eq. 5) inserted as a
  token (Eq. 6); one attention giving enhanced tokens r and correlations e (Eq. 7-8); a ranking of tokens from
  features and correlations (Eq. 9); keeping the top ``keep_ratio`` (rho) of them (Eq. 10); and a graph
  redistribution that passes the biased tokens' information to the kept ones (Eq. 11-12);
- the loss (Eq. 13): task loss + ``lambda_div`` L_div. The prediction reads the mean of the last kept tokens.

Where the paper leaves a choice open, the choice made here:

- Tokens: ``num_tokens`` = 4 per modality on vectors (a 50-d vector's MLP output is cut into 4 tokens), so that a
  modality is more than one token and there is something to rank and pool; N = 12 on three modalities. On frame
  sequences the encoder's own tokens are equal spans of each clip's frames (:func:`mmlib.nn.span_weights`; the
  chapter's AVLetters runs: 40 spans of the lip frames and of the MFCC frames at ``paper``, 20 at ``quick``). The backbone is small and
  trained from scratch (the paper fine-tunes a pre-trained ViLT), hence lr 1e-3 with AdamW rather than 1e-4.
- Eq. 2's transformer prepends the baseline's [CLS] token; h is its output without [CLS].
- Eq. 4 is computed over the mini-batch (the empirical distance covariance needs several samples), per modality
  on the samples where it is available, on the flattened tokens of that modality; a modality available in fewer
  than 4 samples of a batch is skipped.
- Eq. 7 as printed multiplies an N x N attention ``a_i`` by the N+1 rows of h_p; we read it as queries from the
  N tokens and keys and values from h_p (the N tokens and the prompt), so r has N rows; e (Eq. 8) is the
  attention among the N tokens (the prompt's column left out). Each refinement iteration has its own weights and
  prompts and reads the previous iteration's output (the first reads h_e of Eq. 3), after a LayerNorm.
- Eq. 9's correlation score is the paper's own sum, xi_e = Tanh(sum_i e_i): the sum of the rows e_i of e, a
  vector whose entry j is the attention token j receives from all N tokens (the column sum). e's rows do not sum to 1
  here (the prompt's column is left out of e), and they are not what is summed.
- Eq. 10 keeps ``max(1, round(rho * n))`` of the n current tokens, so L_T iterations keep about rho^L_T N.
- ArgSort has no gradient, so, as in top-k graph pooling (Gao and Ji 2019; SAGPool), the kept tokens are
  multiplied by their score xi: this is how f_Psi and alpha_f's feature ranking learn.
- Eq. 12's activation sigma is GELU; alpha_u = 0.5, alpha_f = 0.5, lambda_div = 0.1, L_T = 2, rho = 0.5 (the
  paper does not print its values; its Fig. 4 sweeps L_T and rho).

Ablation switches (Tables 5-8): ``insertion`` = ``token`` (Eq. 6, default), ``summation`` (P added to every
token), ``attention`` (MAPs' attention level: P mapped to a key and a value prefix of the refinement attention,
bypassing W^K, W^V), ``input`` (MAPs' input level: a mixed-context prompt computed from the Eq. 1 embeddings x,
since h_e does not exist yet, is prepended to the input of Eq. 2's transformer; the refinement attention then has
no prompt). ``prompt="maps"`` replaces the mixed-context prompt by one learned prompt per missing case (MAPs),
"w/o mixed-context"; ``lambda_div=0`` is "w/o L_div"; ``unimodal=False`` drops h_u (and with it L_div, which is
defined on h_u), "w/o h_u".
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..nn import FusionTransformer
from .base import MethodOutput, MultimodalMethod
from .baselines import TransformerFusion
from .maps import MGR_RECIPE, missing_case
from .registry import register

INSERTIONS = ("token", "summation", "attention", "input")


def _centered_distances(x: torch.Tensor) -> torch.Tensor:
    """Double-centred Euclidean distance matrix of the rows of x (n x p -> n x n)."""
    norms = x.pow(2).sum(1)
    squared = norms.unsqueeze(0) + norms.unsqueeze(1) - 2 * x @ x.T
    distances = squared.clamp_min(1e-12).sqrt()  # the clamp keeps the gradient finite at zero distance
    return distances - distances.mean(0, keepdim=True) - distances.mean(1, keepdim=True) + distances.mean()


def distance_covariance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Empirical squared distance covariance V_n^2(x, y) of paired rows (Székely et al. 2007)."""
    return (_centered_distances(x) * _centered_distances(y)).mean()


def distance_correlation(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """One summand of Eq. 4: V_n^2(x, y) / sqrt(V_n^2(x, x) V_n^2(y, y) + eps), the squared distance correlation
    of paired rows x (n x p) and y (n x q); 0 for independent samples, 1 for similar (up to scale and rotation)."""
    a, b = _centered_distances(x), _centered_distances(y)
    return (a * b).mean() / torch.sqrt((a * a).mean() * (b * b).mean() + eps)


def keep_count(num_tokens: int, keep_ratio: float) -> int:
    """Eq. 10: how many of ``num_tokens`` tokens the top-rho selection keeps."""
    return max(1, int(round(keep_ratio * num_tokens)))


def redistribute(enhanced: torch.Tensor, adjacency: torch.Tensor, self_weight: nn.Module,
                 neighbour_weight: nn.Module) -> torch.Tensor:
    """Eq. 12: z_i = sigma(r_i W_c1 + sum_j r_j W_c2 A_ji), sigma = GELU (B x N x d). A_ji is non-zero only for a
    biased token j and a kept token i (Eq. 11), so information flows from the biased tokens to the kept ones."""
    return F.gelu(self_weight(enhanced) + adjacency.transpose(1, 2) @ neighbour_weight(enhanced))


def redistribution_matrix(correlations: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """Eq. 11: A_ij = e_ij where token i is biased (not kept) and token j is kept, else 0 (B x N x N)."""
    biased = ~kept
    return correlations * (biased.unsqueeze(2) & kept.unsqueeze(1))


class MixedContextPrompt(nn.Module):
    """Eq. 5: P = f_Mix([sum_{i in M} p^i || f_Phi(h)]), with f_Phi the average pooling of the tokens;
    or, with ``kind="maps"``, one learned prompt per missing case (the "w/o mixed-context" ablation)."""

    def __init__(self, d_model: int, num_modalities: int, kind: str = "mixed"):
        super().__init__()
        if kind not in ("mixed", "maps"):
            raise ValueError(f"prompt must be 'mixed' or 'maps', got {kind!r}")
        self.kind = kind
        if kind == "mixed":
            self.status = nn.Parameter(torch.randn(num_modalities, d_model) * 0.02)  # p^i
            self.mix = nn.Sequential(nn.Linear(2 * d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        else:
            self.cases = nn.Parameter(torch.randn(2 ** num_modalities, d_model) * 0.02)

    def forward(self, tokens: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        if self.kind == "maps":
            return self.cases[missing_case(present)]
        status = present.to(tokens.dtype) @ self.status  # sum of the prompts of the available modalities
        return self.mix(torch.cat([status, tokens.mean(1)], -1))


class Refinement(nn.Module):
    """One refinement iteration (Eq. 5-12): tokens (B x n x d) -> kept, redistributed tokens (B x k x d)."""

    def __init__(self, d_model: int, num_heads: int, num_modalities: int, keep_ratio: float = 0.5,
                 alpha_f: float = 0.5, prompt: str = "mixed", insertion: str = "token", dropout: float = 0.1):
        super().__init__()
        if insertion not in INSERTIONS:
            raise ValueError(f"insertion must be one of {', '.join(INSERTIONS)}, got {insertion!r}")
        self.num_heads, self.keep_ratio, self.alpha_f, self.insertion = num_heads, keep_ratio, alpha_f, insertion
        self.norm = nn.LayerNorm(d_model)
        # input-level prompts live at the input of Eq. 2 (see MGR), not here
        self.prompt = None if insertion == "input" else MixedContextPrompt(d_model, num_modalities, prompt)
        if insertion == "attention":
            self.prefix = nn.Linear(d_model, 2 * d_model)  # P -> a key and a value prefix
        self.query, self.key, self.value = (nn.Linear(d_model, d_model) for _ in range(3))  # W^Q, W^K, W^V
        self.out = nn.Linear(d_model, d_model)  # W^O
        self.rank = nn.Linear(d_model, 1)  # f_Psi
        self.self_weight = nn.Linear(d_model, d_model)  # W_c1
        self.neighbour_weight = nn.Linear(d_model, d_model, bias=False)  # W_c2
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, dict]:
        h = self.norm(tokens)
        batch, n, d = h.shape
        keys = values = h
        extra_keys = extra_values = None
        if self.prompt is not None:
            prompt = self.prompt(h, present)  # Eq. 5
            if self.insertion == "token":  # Eq. 6: h_p = [h_e | P]
                keys = values = torch.cat([h, prompt.unsqueeze(1)], 1)
            elif self.insertion == "summation":
                h = h + prompt.unsqueeze(1)
                keys = values = h
            else:  # attention level: a key/value prefix that bypasses W^K and W^V
                extra_keys, extra_values = self.prefix(prompt).unsqueeze(1).chunk(2, -1)
        heads = lambda t: t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)  # noqa: E731  B x H x T x dh
        q, k, v = heads(self.query(h)), heads(self.key(keys)), heads(self.value(values))
        if extra_keys is not None:
            k = torch.cat([k, heads(extra_keys)], 2)
            v = torch.cat([v, heads(extra_values)], 2)
        attention = torch.softmax(q @ k.transpose(-1, -2) / (d / self.num_heads) ** 0.5, -1)  # a_i, Eq. 7
        enhanced = self.out((self.dropout(attention) @ v).transpose(1, 2).flatten(2))  # r, Eq. 7
        correlations = attention.mean(1)[:, :, :n]  # e, Eq. 8 (among the n tokens)
        # Eq. 9: feature-level and correlation-level rankings; sum_i e_i, the sum of e's rows, is per token the
        # attention it receives
        scores = self.alpha_f * torch.tanh(self.rank(enhanced).squeeze(-1)) \
            + (1 - self.alpha_f) * torch.tanh(correlations.sum(1))
        order = scores.topk(keep_count(n, self.keep_ratio), dim=1).indices.sort(1).values  # idx_u, Eq. 10
        kept = torch.zeros(batch, n, dtype=torch.bool, device=h.device).scatter_(1, order, True)
        adjacency = redistribution_matrix(correlations, kept)  # Eq. 11
        # Eq. 12: z_i = sigma(r_i W_c1 + sum_j r_j W_c2 A_ji); only kept tokens i receive, from biased tokens j
        refined = redistribute(enhanced, adjacency, self.self_weight, self.neighbour_weight)
        gather = order.unsqueeze(-1).expand(-1, -1, d)
        refined = refined.gather(1, gather) * scores.gather(1, order).unsqueeze(-1)  # top-k pooling gate
        return refined, {"scores": scores, "kept": kept, "adjacency": adjacency, "correlations": correlations}


@register
class MGR(TransformerFusion):
    name = "mgr"
    recipe = MGR_RECIPE

    def __init__(self, spec, d_model: int = 64, num_tokens: int | None = 4, dropout: float = 0.1,
                 num_layers: int = 2, num_heads: int = 4, refine_layers: int = 2, keep_ratio: float = 0.5,
                 alpha_u: float = 0.5, alpha_f: float = 0.5, lambda_div: float = 0.1, prompt: str = "mixed",
                 insertion: str = "token", unimodal: bool = True, embedding: str = "paper"):
        super().__init__(spec, d_model, num_tokens, dropout, num_layers, num_heads, embedding)
        self.alpha_u, self.lambda_div, self.insertion = alpha_u, lambda_div, insertion
        names = spec.modality_names
        self.unimodal = nn.ModuleDict({n: FusionTransformer(d_model, 1, num_heads, dropout) for n in names}) \
            if unimodal else None
        self.input_prompt = MixedContextPrompt(d_model, spec.num_modalities, prompt) if insertion == "input" else None
        self.refinements = nn.ModuleList(
            Refinement(d_model, num_heads, spec.num_modalities, keep_ratio, alpha_f, prompt, insertion, dropout)
            for _ in range(refine_layers))
        self.final_norm = nn.LayerNorm(d_model)

    def represent(self, tokens: dict[str, torch.Tensor], present: torch.Tensor):
        """The refined representation z (B x d), and per modality the multimodal tokens h^i and unimodal h_u^i."""
        names = self.spec.modality_names
        x = self.embed(tokens, present)  # Eq. 1
        skip = 1
        if self.input_prompt is not None:  # MAPs input-level insertion of the prompt (ablation)
            x = torch.cat([self.input_prompt(x, present).unsqueeze(1), x], 1)
            skip = 2
        h = self.fusion(x)[:, skip:]  # Eq. 2, without [CLS] (and the input prompt)
        multimodal = dict(zip(names, h.split([tokens[n].shape[1] for n in names], 1)))
        unimodal = {}
        enhanced = []
        for i, name in enumerate(names):
            part = multimodal[name]
            if self.unimodal is not None:
                # the unimodal transformer reads the modality's tokens with its type and position embeddings
                unimodal[name] = self.unimodal[name](tokens[name] + self._type_and_position(name))[:, 1:]
                part = part + self.alpha_u * unimodal[name] * present[:, i].view(-1, 1, 1).to(part.dtype)  # Eq. 3
            enhanced.append(part)
        z = torch.cat(enhanced, 1)
        for refinement in self.refinements:  # Eq. 5-12, L_T times
            z, _ = refinement(z, present)
        return self.final_norm(z.mean(1)), multimodal, unimodal

    def diversity_loss(self, multimodal, unimodal, present) -> torch.Tensor:
        """Eq. 4: sum over modalities of the distance correlation of h_u^i and h^i on the samples that have i."""
        loss = present.new_zeros((), dtype=torch.float32)
        for i, name in enumerate(self.spec.modality_names):
            rows = present[:, i]
            if rows.sum() >= 4:
                loss = loss + distance_correlation(unimodal[name][rows].flatten(1), multimodal[name][rows].flatten(1))
        return loss

    def fuse(self, tokens, present):
        features, _, _ = self.represent(tokens, present)
        return self.head(features), features

    def forward(self, batch) -> MethodOutput:
        tokens = self.encode(batch)
        features, multimodal, unimodal = self.represent(tokens, batch.present)
        losses = {}
        if unimodal and self.lambda_div > 0 and self.training:
            losses["div"] = self.lambda_div * self.diversity_loss(multimodal, unimodal, batch.present)  # Eq. 13
        return MethodOutput(self.head(features), losses, features, tokens)

    # the transformer baseline's fast subset pass knows nothing of MGR's layers: use the generic one
    subset_logits = MultimodalMethod.subset_logits
