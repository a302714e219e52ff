"""CMPT: cross-modal proxy tokens on frozen unimodal encoders with rank-1 LoRA (Reza et al.).

Per modality m, a transformer encoder f_m (with its embedding layer, Eq. 1) is pre-trained on modality m alone
and frozen. Proxy tokens are put in front of its class token (Eq. 2), rank-1 LoRA adapters (alpha 1, dropout 0.1)
sit on the query, key, value and output projections of every attention block (section 3.5, Table 5), and the
encoder outputs the proxies, the class token and the other tokens (Eq. 3). An alignment loss pulls each proxy
towards the class token it stands for (Eq. 4); a gate swaps the class token of an absent modality for the proxy
from the available one, the tokens are added (Eq. 5) and a linear head classifies (Eq. 6); the loss is
task + lambda * alignment with lambda = 0.2 (Eq. 7). Only the LoRA factors, the proxy tokens and the head learn.

Choices the paper leaves open, and ours:

- **Pre-trained encoders.** The paper uses CLIP ViT-B, BERT and AST, pre-trained on large external data. No such
  encoders exist for our stand-in features, so each encoder (embedding layer + ``num_layers`` transformer blocks
  + class token) is pre-trained here, on the training split's samples that have that modality, as a unimodal
  classifier, then frozen. The weights are cached under ``<cache>/models`` keyed on the dataset, the data actually
  used, the encoder configuration, the seed and the code version (:func:`pretrained_encoder_state`). With
  ``pretrain_source`` (a name in :data:`mmlib.data.spare.SOURCES`), a modality the source holds data for is
  pre-trained on that data instead, disjoint from every split (AV-MNIST's spare MNIST digits for its image encoder),
  90% to fit and 10% to keep the best epoch; the other modalities still on the training split.
- **Attention blocks** have separate ``q``, ``k``, ``v`` and ``out`` linear layers (not ``mmlib.nn.Block``'s fused
  ``qkv``) so that each projection gets its own rank-1 adapter; the adapters come from ``peft``.
- **More than two modalities (our extension).** The paper stops at two. We keep *one proxy per ordered pair*:
  modality i carries M - 1 proxies, CMPT_{i->j} approximating the class token of modality j. The alignment loss
  sums Eq. 4's MSE over ordered pairs, each averaged over the samples where both i and j are present (for M = 2
  these are exactly the complete samples of Eq. 4). The gate replaces the class token of an absent modality j by
  the mean of CMPT_{i->j} over the present modalities i; for M = 2 this is Eq. 5 exactly. We prefer it to a
  single proxy per modality approximating the mean of the others' class tokens because the fusion needs the
  *missing* modality's token: with one mean proxy, a sample that lacks only one of three modalities would have
  to recover that token by subtracting the present ones, whereas a pair proxy targets it directly, at a cost of
  M(M - 1) tokens of d parameters.
- **Modality dropout** (section 3.5, "on complete modality data"): applied only when the training split is
  complete, per sample, with p = 0.5 (:class:`~mmlib.missing.ModalityDropout`): for two modalities each of
  "both", "drop the first", "drop the second" has probability 1/3.
- **The model without CMPT** (the ablations of Figures 3-7, ``use_cmpt=False``): the same frozen encoders, LoRA and
  head, with no proxies and no alignment loss; an absent modality's class token is left out of the sum.
- **Recipe** (Table 5, image-text column): AdamW (weight decay 0.02), lr 1e-3, batch 8, 10 epochs, polynomial
  schedule with power 0.9 and 5 warm-up epochs at 0.1 x lr. We use it on every dataset (the audio-video column's
  100 epochs at lr 5e-5 do not fit a CPU budget). The alignment target (the class token) is not detached: the
  paper does not say it is.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn import functional as F

from ..data.core import DatasetSpec
from ..missing import ModalityDropout
from ..nn import make_encoder, mlp
from ..train import TrainConfig, fit
from ..trained import train_once
from .base import MethodOutput, MultimodalMethod
from .registry import register

__all__ = ["CMPT", "TokenEncoder", "pretrained_encoder_state", "parameter_counts", "tokens_of", "linear_map",
           "proxy_fidelity"]

LORA_TARGETS = ["q", "k", "v", "out"]


class Attention(nn.Module):
    """Multi-head self-attention with separate query, key, value and output projections."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.1):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.q, self.k, self.v, self.out = (nn.Linear(d_model, d_model) for _ in range(4))
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heads = lambda t: t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)  # noqa: E731  B x H x T x dh
        p = self.dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), dropout_p=p)
        return self.out(attended.transpose(1, 2).flatten(2))


class EncoderBlock(nn.Module):
    """A pre-norm transformer block: x + Attention(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.1):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = Attention(d_model, num_heads, dropout)
        self.ffn = mlp(d_model, 2 * d_model, d_model, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x)))
        return x + self.dropout(self.ffn(self.norm2(x)))


class TokenEncoder(nn.Module):
    """The unimodal encoder f_m of one modality: its embedding layer (Eq. 1, an :func:`mmlib.nn.make_encoder`),
    a class token, learned positions and transformer blocks. ``forward`` puts ``prefix`` tokens (the CMPTs) in front
    of the class token (Eq. 2) and returns every output token, prefix first (Eq. 3): B x (P + 1 + N) x d."""

    def __init__(self, modality, d_model: int = 64, num_tokens: int = 4, num_layers: int = 1, num_heads: int = 4,
                 dropout: float = 0.1):
        super().__init__()
        self.embedding = make_encoder(modality, d_model, num_tokens, dropout)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.position = nn.Parameter(torch.randn(1, 1 + self.embedding.num_tokens, d_model) * 0.02)
        self.blocks = nn.ModuleList(EncoderBlock(d_model, num_heads, dropout) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None,
                prefix: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.embedding(x, frame_mask)  # Eq. 1
        h = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], 1) + self.position
        if prefix is not None:  # Eq. 2: Concat(T_CMPT, T_CLS, T_m)
            h = torch.cat([prefix.expand(tokens.shape[0], -1, -1), h], 1)
        for block in self.blocks:
            h = block(h)
        return self.norm(h)  # Eq. 3


class _UnimodalClassifier(nn.Module):
    """A :class:`TokenEncoder` with a linear head on its class token: what pre-training fits with
    :func:`mmlib.train.fit` (it has the few attributes ``fit`` reads)."""

    name = "cmpt-pretraining"
    train_dropout = None

    def __init__(self, modality_name: str, encoder: TokenEncoder, num_classes: int, d_model: int):
        super().__init__()
        self.modality_name = modality_name
        self.encoder = encoder
        self.head = nn.Linear(d_model, num_classes)

    def prepare(self, train, val, config) -> None:
        pass

    def forward(self, batch) -> MethodOutput:
        cls = self.encoder(batch.x[self.modality_name], batch.frame_mask.get(self.modality_name))[:, 0]
        return MethodOutput(self.head(cls))


def pretrained_encoder_state(modality, spec, train, val, encoder_options: dict, config: TrainConfig
                             ) -> dict[str, torch.Tensor]:
    """The state dict of modality ``modality``'s :class:`TokenEncoder` after pre-training it alone (with a linear
    head on its class token, cross-entropy) on the samples of ``train`` that have it, keeping the epoch best on
    ``val``. Kept by :func:`mmlib.trained.train_once` (keyed on the data used, the encoder options, the
    pre-training configuration, seed included, and the code version), so a rebuild does not pre-train again and
    stale weights are never reused."""
    name = modality.name
    column = spec.index(name)
    train_m = train.subset(torch.nonzero(train.present[:, column]).squeeze(1))
    val_m = val.subset(torch.nonzero(val.present[:, column]).squeeze(1)) if val is not None else None
    with torch.random.fork_rng(devices=[]):  # the initial weights come from the seed, not from the caller's stream
        torch.manual_seed(config.seed)
        classifier = _UnimodalClassifier(name, TokenEncoder(modality, **encoder_options), spec.num_classes,
                                         encoder_options["d_model"])
    used = [(part.x[name], part.frame_mask.get(name), part.y) for part in (train_m, val_m) if part is not None]
    recipe = repr(config.updated(device="", progress=False))
    train_once(classifier, f"cmpt-encoder-{name}", (spec.name, encoder_options, recipe, used),
               lambda: fit(classifier, train_m, val_m, config))
    return {k: v.detach().cpu() for k, v in classifier.encoder.state_dict().items()}


def parameter_counts(method: nn.Module) -> dict[str, int]:
    """Total and learnable (``requires_grad``) parameter counts of a method (Tables 3 and 4)."""
    parameters = list(method.parameters())
    return {"total": sum(p.numel() for p in parameters),
            "learnable": sum(p.numel() for p in parameters if p.requires_grad)}


@register
class CMPT(MultimodalMethod):
    name = "cmpt"
    #: Table 5, image-text column (see the module docstring). Patience 8, as every other method of the book: models
    #: compared with one another share one selection rule (mmlib.experiment.budget); the paper trains its 10 epochs
    #: without early stopping, which patience 8 at 10 epochs barely changes.
    recipe = TrainConfig(epochs=10, batch_size=8, lr=1e-3, weight_decay=0.02, optimizer="adamw", scheduler="poly",
                         poly_power=0.9, warmup_epochs=5, patience=8)

    def __init__(self, spec, d_model: int = 64, num_tokens: int | None = 4, dropout: float = 0.1,
                 num_layers: int = 1, num_heads: int = 4, lora_rank: int = 1, lora_alpha: float = 1.0,
                 lora_dropout: float = 0.1, align_weight: float = 0.2, use_cmpt: bool = True,
                 modality_dropout: float | None = 0.5, pretrain: bool = True, pretrain_epochs: int = 20,
                 pretrain_source: str | None = None):
        super().__init__(spec, d_model, num_tokens, dropout)
        self.encoder_options = dict(d_model=d_model, num_tokens=num_tokens, num_layers=num_layers,
                                    num_heads=num_heads, dropout=dropout)
        # peft (and the transformers it imports) takes seconds to import: only when a CMPT model is built
        with warnings.catch_warnings():  # its tqdm.auto import warns in kernels without ipywidgets
            warnings.filterwarnings("ignore", message="IProgress not found")
            from peft import LoraConfig, inject_adapter_in_model

        lora = LoraConfig(r=lora_rank, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=LORA_TARGETS)
        # peft wraps q, k, v and out of every block in a LoRA layer and freezes everything else in the encoder
        self.encoders = nn.ModuleDict({m.name: inject_adapter_in_model(lora, TokenEncoder(m, **self.encoder_options))
                                       for m in spec.modalities})
        for name, parameter in self.encoders.named_parameters():
            parameter.requires_grad_("lora_" in name)
        self.use_cmpt = use_cmpt
        self.num_proxies = spec.num_modalities - 1 if use_cmpt else 0
        # proxies[i][p]: CMPT_{i -> j} for the p-th other modality j of i, in spec order (one per ordered pair)
        self.proxies = nn.ParameterDict({m.name: nn.Parameter(torch.randn(1, self.num_proxies, d_model) * 0.02)
                                         for m in spec.modalities}) if use_cmpt else None
        self.head = nn.Linear(d_model, spec.num_classes)  # Eq. 6
        self.align_weight = align_weight
        self.modality_dropout = modality_dropout
        self.pretrain, self.pretrain_epochs = pretrain, pretrain_epochs
        self.pretrain_source = pretrain_source

    def prepare(self, train, val, config: TrainConfig) -> None:
        """Pre-train (or load) each modality's encoder and load it under the LoRA adapters; switch on modality
        dropout when the training split is complete (section 3.5)."""
        complete = bool(train.present.all())
        self.train_dropout = ModalityDropout(self.modality_dropout) if complete and self.modality_dropout else None
        if not self.pretrain:
            return
        # pre-training gets at most twice the fine-tuning epochs, so that the smoke profile stays fast
        pretraining = TrainConfig(epochs=min(self.pretrain_epochs, 2 * config.epochs), batch_size=64, lr=1e-3,
                                  weight_decay=0.02, optimizer="adamw", patience=5, seed=config.seed,
                                  device=config.device, progress=config.progress)
        device = next(self.parameters()).device
        for modality in self.spec.modalities:
            external = self._external_splits(modality) if self.pretrain_source else None
            fit_on, keep_on, spec = external if external is not None else (train, val, self.spec)
            state = pretrained_encoder_state(modality, spec, fit_on, keep_on, self.encoder_options, pretraining)
            self._load_frozen(self.encoders[modality.name], state)
        self.to(device)

    def _external_splits(self, modality):
        """``pretrain_source``'s data for ``modality`` as (fit, keep, spec) one-modality datasets, 90% / 10% by class
        (seed 0), or None when the source holds none for it."""
        from ..data.core import DataError, MultimodalDataset, stratified_split
        from ..data.spare import pretraining_data

        found = pretraining_data(self.pretrain_source, modality.name)
        if found is None:
            return None
        inputs, labels = found
        if tuple(inputs.shape[1:]) != tuple(modality.shape):
            raise DataError(f"pre-training source {self.pretrain_source!r}: {modality.name} inputs of shape "
                            f"{tuple(inputs.shape[1:])}, but {self.spec.name!r} has {tuple(modality.shape)}")
        spec = DatasetSpec(f"{self.spec.name}+{self.pretrain_source}", (modality,), self.spec.num_classes)
        whole = MultimodalDataset(spec, {modality.name: inputs}, labels)
        fit_index, keep_index = stratified_split(labels.numpy(), [0.9, 0.1], seed=0)
        return whole.subset(fit_index), whole.subset(keep_index), spec

    @staticmethod
    def _load_frozen(encoder: nn.Module, state: dict[str, torch.Tensor]) -> None:
        """Load a plain :class:`TokenEncoder` state into an encoder whose projections peft wrapped
        (``blocks.0.attention.q.weight`` is now ``blocks.0.attention.q.base_layer.weight``); LoRA stays as it is."""
        own = encoder.state_dict()
        mapped = {key: state[key.replace(".base_layer", "")] for key in own if "lora_" not in key}
        encoder.load_state_dict({**own, **mapped})

    def other(self, i: int, j: int) -> int:
        """Index among modality i's proxies of the one that stands for modality j."""
        return j if j < i else j - 1

    def encode(self, batch) -> dict[str, torch.Tensor]:
        return {m.name: self.encoders[m.name](batch.x[m.name], batch.frame_mask.get(m.name),
                                              self.proxies[m.name] if self.use_cmpt else None)
                for m in self.spec.modalities}

    def class_and_proxy_tokens(self, tokens: dict[str, torch.Tensor]):
        """Class tokens (B x M x d) and proxies (B x M x (M-1) x d, or None) from the encoders' outputs."""
        names = self.spec.modality_names
        cls = torch.stack([tokens[n][:, self.num_proxies] for n in names], 1)
        proxies = torch.stack([tokens[n][:, : self.num_proxies] for n in names], 1) if self.use_cmpt else None
        return cls, proxies

    def fuse(self, tokens, present):
        """The gate and additive fusion (Eq. 5), then the linear head (Eq. 6)."""
        cls, proxies = self.class_and_proxy_tokens(tokens)
        num_modalities = cls.shape[1]
        weight = present.float()
        slots = []
        for j in range(num_modalities):
            if not self.use_cmpt:
                slots.append(cls[:, j] * weight[:, j : j + 1])
                continue
            # an absent modality j: the mean of CMPT_{i -> j} over the present modalities i
            others = [i for i in range(num_modalities) if i != j]
            proxy = torch.stack([proxies[:, i, self.other(i, j)] for i in others], 1)  # B x (M-1) x d
            share = weight[:, others]
            stand_in = (proxy * share.unsqueeze(-1)).sum(1) / share.sum(1, keepdim=True).clamp_min(1.0)
            slots.append(torch.where(present[:, j : j + 1], cls[:, j], stand_in))
        features = torch.stack(slots, 1).sum(1)
        return self.head(features), features

    def alignment_loss(self, tokens, present) -> torch.Tensor:
        """Eq. 4: MSE between CMPT_{i -> j} and the class token of j, averaged over the samples that have both i and
        j (for two modalities, the complete samples), summed over the ordered pairs."""
        cls, proxies = self.class_and_proxy_tokens(tokens)
        loss = cls.new_zeros(())
        for i in range(cls.shape[1]):
            for j in range(cls.shape[1]):
                both = present[:, i] & present[:, j]
                if i == j or not both.any():
                    continue
                loss = loss + F.mse_loss(proxies[both, i, self.other(i, j)], cls[both, j])
        return loss

    def forward(self, batch) -> MethodOutput:
        tokens = self.encode(batch)
        logits, features = self.fuse(tokens, batch.present)
        losses = {"align": self.align_weight * self.alignment_loss(tokens, batch.present)} if self.use_cmpt else {}
        return MethodOutput(logits, losses, features, tokens)  # Eq. 7: the loop adds the task loss


# ------------------------------------------------------------------------------------- the premise, measured
@torch.no_grad()
def tokens_of(method: CMPT, dataset, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """A trained CMPT's class tokens (N x M x d) and proxies (N x M x (M-1) x d) on every sample of ``dataset``, in
    evaluation mode. Each encoder sees only its own modality, so a proxy does not depend on whether the modality it
    stands for is present: these are the tokens the gate (Eq. 5) would use."""
    if not method.use_cmpt:
        raise ValueError("a CMPT model without proxy tokens (use_cmpt=False) has no proxies to measure")
    method.eval()
    device = next(method.parameters()).device
    parts = [method.class_and_proxy_tokens(method.encode(batch.to(device))) for batch in dataset.batches(batch_size)]
    return torch.cat([c for c, _ in parts]).cpu(), torch.cat([p for _, p in parts]).cpu()


def linear_map(source: torch.Tensor, target: torch.Tensor, ridge: float = 0.0):
    """The affine least-squares map from ``source`` (N x d) to ``target`` (N x e), ridge-regularised by ``ridge``
    times the mean eigenvalue of the centred source's Gram matrix (so that ``ridge`` does not depend on the tokens'
    scale; 0: plain least squares). Returns a function of new sources."""
    source, target = source.double(), target.double()
    source_mean, target_mean = source.mean(0), target.mean(0)
    centred = source - source_mean
    gram = centred.T @ centred
    penalty = ridge * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
    weight = torch.linalg.lstsq(gram + penalty, centred.T @ (target - target_mean)).solution
    return lambda new: ((new.double() - source_mean) @ weight + target_mean).float()


#: the ridge strengths :func:`proxy_fidelity` chooses from, on the validation split: from plain least squares to a
#: map so shrunk that it is nearly the training mean
RIDGES = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _mse(estimate: torch.Tensor, target: torch.Tensor) -> float:
    return float(((estimate - target) ** 2).mean())  # over samples and dimensions, as Eq. 4's MSE


def _cosine(estimate: torch.Tensor, target: torch.Tensor) -> float:
    return float(F.cosine_similarity(estimate, target, dim=-1).mean())


def proxy_fidelity(method: CMPT, train, val, test, ridges=RIDGES):
    """CMPT's premise, measured: how close each proxy CMPT_{i->j} comes, on ``test``, to the class token of the
    modality j it stands for (section 3.2: the proxy "approximates the class token of the other modality"), against
    two references computed from ``train`` with no proxy at all:

    - ``training mean``: the mean class token of j over the training split (what a constant stand-in achieves);
    - ``linear regression``: an affine map from the *present* modality's class token to j's, fitted by ridge least
      squares on the training split, its ridge strength (from ``ridges``) chosen on ``val`` by MSE.

    Each is scored on the samples holding both i and j (fitted likewise) by the mean per-sample cosine similarity
    and the MSE of Eq. 4. Returns a tidy table: ``present`` (i), ``stands_for`` (j), ``reference`` (``proxy`` and
    the two above), ``metric`` (``cosine``, ``mse``) and ``value``."""
    import pandas as pd

    names = method.spec.modality_names
    tokens = {name: tokens_of(method, part) for name, part in (("train", train), ("val", val), ("test", test))}
    present = {"train": train.present, "val": val.present, "test": test.present}
    rows = []
    for i, source in enumerate(names):
        for j, target in enumerate(names):
            if i == j:
                continue
            both = {part: present[part][:, i] & present[part][:, j] for part in present}
            cls = {part: tokens[part][0][both[part]] for part in tokens}
            real = cls["test"][:, j]
            maps = {ridge: linear_map(cls["train"][:, i], cls["train"][:, j], ridge) for ridge in ridges}
            best = min(maps, key=lambda ridge: _mse(maps[ridge](cls["val"][:, i]), cls["val"][:, j]))
            estimates = {"proxy": tokens["test"][1][both["test"]][:, i, method.other(i, j)],
                         "training mean": cls["train"][:, j].mean(0).expand_as(real),
                         "linear regression": maps[best](cls["test"][:, i])}
            rows += [dict(present=source, stands_for=target, reference=reference, metric=metric,
                          value=score(estimate, real))
                     for reference, estimate in estimates.items()
                     for metric, score in (("cosine", _cosine), ("mse", _mse))]
    return pd.DataFrame(rows)
