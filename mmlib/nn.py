"""Building blocks shared by the methods: an encoder per modality kind, all returning tokens (B x T x d_model).

- ``vector`` (d): an MLP whose output is cut into ``num_tokens`` tokens;
- ``sequence`` (T x d): frames projected to d_model, a temporal convolution, then masked mean pooling over
  ``num_tokens`` equal spans of the sample's own extent (:func:`span_weights`): zero padding to the batch's
  longest sequence makes no token (a span whose frames were all dropped gives a zero token);
- ``image`` (C x H x W): a small CNN whose feature map is average-pooled to a grid of tokens.

Pooled features are the mean of a modality's tokens (:func:`pool`).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .data.core import ModalitySpec

__all__ = ["VectorEncoder", "SequenceEncoder", "ImageEncoder", "make_encoder", "pool", "Block",
           "FusionTransformer", "CrossAttention", "mlp", "span_weights"]


def mlp(in_dim: int, hidden: int, out_dim: int, dropout: float = 0.1) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim))


class VectorEncoder(nn.Module):
    def __init__(self, in_dim: int, d_model: int, num_tokens: int = 1, dropout: float = 0.1):
        super().__init__()
        self.num_tokens = num_tokens
        self.net = nn.Sequential(nn.LayerNorm(in_dim), mlp(in_dim, 2 * d_model, num_tokens * d_model, dropout))

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).view(x.shape[0], self.num_tokens, -1)


class SequenceEncoder(nn.Module):
    def __init__(self, in_dim: int, d_model: int, num_tokens: int = 4, dropout: float = 0.1):
        super().__init__()
        self.num_tokens = num_tokens
        self.project = nn.Linear(in_dim, d_model)
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, _ = x.shape
        mask = torch.ones(batch, length, dtype=torch.bool, device=x.device) if frame_mask is None else frame_mask
        h = self.project(x) * mask.unsqueeze(-1)  # a masked frame is zero to the convolution, as beyond the ends
        h = h + F.gelu(self.conv(h.transpose(1, 2)).transpose(1, 2))
        h = self.dropout(h) * mask.unsqueeze(-1)
        weight = span_weights(mask, self.num_tokens) * mask.unsqueeze(1)  # B x num_tokens x T
        count = weight.sum(2, keepdim=True)
        tokens = (weight @ h) / count.clamp_min(1.0)  # masked mean over each span's real frames
        return self.norm(tokens) * (count > 0)


def span_weights(mask: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """Which frames each token pools (B x num_tokens x T, 0/1): ``num_tokens`` equal spans of the sample's own
    extent (its first frame to its last real one, from ``mask``, B x T), not of the padded length, so that a
    sequence zero-padded to the batch's longest yields the same tokens as alone and no token is all padding. A
    span shorter than a frame takes the frame it falls in (a sample shorter than ``num_tokens`` frames repeats
    frames). A sample with no real frame (its modality absent) gets no frames: zero tokens."""
    length = mask.shape[1]
    positions = torch.arange(length, device=mask.device)
    extent = torch.where(mask, positions + 1, 0).amax(1, keepdim=True).to(torch.float32)  # B x 1
    edges = torch.arange(num_tokens + 1, device=mask.device) / num_tokens * extent  # B x (num_tokens + 1)
    start = edges[:, :-1].floor()
    end = torch.maximum(edges[:, 1:].floor(), start + 1).minimum(extent)  # at least one frame per span
    inside = (positions >= start.unsqueeze(-1)) & (positions < end.unsqueeze(-1))
    return inside.to(torch.float32)


class ImageEncoder(nn.Module):
    def __init__(self, shape: tuple[int, int, int], d_model: int, num_tokens: int = 4, dropout: float = 0.1):
        super().__init__()
        side = int(round(math.sqrt(num_tokens)))
        if side * side != num_tokens:
            raise ValueError(f"an image encoder makes a square grid of tokens; {num_tokens} is not a square")
        self.num_tokens = num_tokens
        channels = shape[0]
        self.net = nn.Sequential(
            nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(side), nn.Dropout(dropout),
        )
        self.project = nn.Linear(32, d_model)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.project(self.net(x).flatten(2).transpose(1, 2))


def make_encoder(modality: ModalitySpec, d_model: int, num_tokens: int | None = None, dropout: float = 0.1
                 ) -> nn.Module:
    """The encoder for a modality's kind; ``num_tokens`` defaults to 1 for vectors and 4 otherwise."""
    if modality.kind == "vector":
        return VectorEncoder(modality.shape[0], d_model, num_tokens or 1, dropout)
    if modality.kind == "sequence":
        return SequenceEncoder(modality.shape[1], d_model, num_tokens or 4, dropout)
    if modality.kind == "image":
        return ImageEncoder(modality.shape, d_model, num_tokens or 4, dropout)
    raise ValueError(f"modality {modality.name!r} has unknown kind {modality.kind!r}")


def pool(tokens: torch.Tensor) -> torch.Tensor:
    """Pooled feature of a modality: the mean of its tokens (B x T x d -> B x d)."""
    return tokens.mean(1)


class Block(nn.Module):
    """A pre-norm transformer block: x + Attention(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.1):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ffn = mlp(d_model, 2 * d_model, d_model, dropout)
        self.dropout = nn.Dropout(dropout)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keys: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Multi-head attention on projected (..., T, d) queries, keys and values; ``keys`` (B x T bool), where
        given, says which positions may be attended to (the others are masked out of every query's softmax)."""
        heads = lambda t: t.unflatten(-1, (self.num_heads, -1)).transpose(-3, -2)  # noqa: E731
        p = self.dropout.p if self.training else 0.0
        mask = None if keys is None else keys[:, None, None, :]
        return F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask,
                                              dropout_p=p).transpose(-3, -2).flatten(-2)

    def finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """The rest of the block after attention: output projection, residual, then the feed-forward half."""
        return self.feed_forward(x + self.dropout(self.out(attended)))

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.ffn(self.norm2(x)))

    def forward(self, x: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        return self.finish(x, self.attend(*self.qkv(self.norm1(x)).chunk(3, -1), keys))


class FusionTransformer(nn.Module):
    """A pre-norm transformer over a token sequence with a learned [CLS] token in front; ``forward`` returns the
    whole output sequence ([CLS] first).

    :meth:`cls_under_subsets` gives the [CLS] output for many subsets of the tokens at once, as Shapley needs,
    at about half the cost of running ``forward`` on every subset's sequence: an input token is either its real
    state or its missing-modality embedding, so the first block's LayerNorm and projections are computed once
    per state and selected per subset; and the last block computes only the [CLS] row, the one the head reads.
    """

    def __init__(self, d_model: int, num_layers: int = 2, num_heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.blocks = nn.ModuleList(Block(d_model, num_heads, dropout) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        nn.init.normal_(self.cls, std=0.02)

    def forward(self, tokens: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """The output sequence ([CLS] first) of ``tokens`` (B x T x d). ``keep`` (B x T bool), where given, masks
        the tokens where it is False out of attention: no position attends to them (their own outputs are computed
        but read by nothing), as if they were not in the sequence; [CLS] is always attended."""
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], 1)
        keys = None if keep is None else torch.cat([keep.new_ones(keep.shape[0], 1), keep], 1)
        for block in self.blocks:
            x = block(x, keys)
        return self.norm(x)

    def cls_under_subsets(self, real: torch.Tensor, missing: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """[CLS] outputs (B x K x d) where sample b under subset k reads token t as ``real[b, t]`` if
        ``keep[b, k, t]`` else ``missing[t]``. Equals ``forward`` on each such sequence (in evaluation mode)."""
        x = self._first_block_under_subsets(real, missing, keep)
        for block in self.blocks[1:-1]:
            x = block(x)
        if len(self.blocks) > 1:
            x = self._cls_row_of_last_block(x)
        return self.norm(x[..., 0, :])

    def _cls_row_of_last_block(self, x: torch.Tensor) -> torch.Tensor:
        """The last block computes only the [CLS] row, the one the head reads: keys and values of every position,
        the query of [CLS] alone (B x K x P x d -> B x K x 1 x d)."""
        block = self.blocks[-1]
        d_model = x.shape[-1]
        normed = block.norm1(x)
        q = F.linear(normed[..., :1, :], block.qkv.weight[:d_model], block.qkv.bias[:d_model])
        k, v = F.linear(normed, block.qkv.weight[d_model:], block.qkv.bias[d_model:]).chunk(2, -1)
        split = lambda t: t.unflatten(-1, (block.num_heads, -1))  # noqa: E731  (..., P, H, dh)
        q, k, v = split(q), split(k), split(v)
        weights = _softmax_short_rows(((k * q).sum(-1) * q.shape[-1] ** -0.5).transpose(-1, -2))  # B x K x H x P
        weights = weights.transpose(-1, -2)
        attended = (weights.unsqueeze(-1) * v).sum(-3).flatten(-2).unsqueeze(-2)  # B x K x 1 x d
        return block.finish(x[..., :1, :], attended)

    def _first_block_under_subsets(self, real, missing, keep):
        """The first block, sharing work across subsets: every position holds one of 2T + 1 states ([CLS], T real
        tokens, T missing embeddings), so LayerNorm, projections and attention scores are computed once per pair of
        states, and each subset only gathers its scores and mixes the shared values."""
        block = self.blocks[0]
        batch, num_subsets, length = keep.shape
        positions = length + 1
        bank = torch.cat([self.cls.expand(batch, 1, -1), real, missing.expand(batch, -1, -1)], 1)  # B x S x d
        states = bank.shape[1]
        q, k, v = block.qkv(block.norm1(bank)).chunk(3, -1)
        heads = lambda t: t.unflatten(-1, (block.num_heads, -1)).transpose(1, 2)  # B x H x S x dh  # noqa: E731
        q, k, v = heads(q), heads(k), heads(v)
        scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # B x H x S x S
        tokens = torch.arange(1, positions, device=keep.device)
        state = torch.where(keep, tokens, tokens + length)  # B x K x T: which state each token position holds
        state = torch.cat([torch.zeros_like(state[..., :1]), state], -1)  # [CLS] is state 0
        pair = (state.unsqueeze(-1) * states + state.unsqueeze(-2)).flatten(-2)  # B x K x P*P
        num_heads = block.num_heads
        gathered = torch.gather(scores.flatten(-2).unsqueeze(1).expand(-1, num_subsets, -1, -1), 3,
                                pair.unsqueeze(2).expand(-1, -1, num_heads, -1))
        weights = _softmax_short_rows(gathered.view(batch, num_subsets, num_heads, positions, positions))
        # Scatter each key position's weight onto the state it holds, then mix values already passed through the
        # output projection (it is linear, so per state and head it commutes with the mixing): one product.
        on_states = weights.new_zeros(batch, num_subsets, positions, num_heads, states)
        key_states = state[:, :, None, None, :].expand(-1, -1, positions, num_heads, -1)
        on_states.scatter_add_(4, key_states, weights.transpose(2, 3))
        head_out = block.out.weight.view(-1, num_heads, v.shape[-1]).permute(1, 2, 0)  # H x dh x d
        projected_values = (v @ head_out).flatten(1, 2)  # B x (H * S) x d
        mixed = on_states.view(batch, num_subsets * positions, num_heads * states) @ projected_values
        attended = mixed.view(batch, num_subsets, positions, -1) + block.out.bias
        x = torch.cat([self.cls.expand(batch, num_subsets, 1, -1),
                       torch.where(keep.unsqueeze(-1), real.unsqueeze(1), missing)], 2)
        return block.feed_forward(x + attended)


def _softmax_short_rows(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over a short last axis (a few tokens), written out: on the CPU, ``Tensor.softmax`` spends most of
    its time per row when rows hold fewer than ten numbers, and this is three to four times faster there."""
    weights = (scores - scores.amax(-1, keepdim=True)).exp_()
    return weights.div_(weights.sum(-1, keepdim=True))


class CrossAttention(nn.Module):
    """Multi-head attention of ``query`` tokens over ``context`` tokens with a residual and a LayerNorm
    (the cross-modal attention block of DREAM's Eq. 5-9 and MMP's Eq. 1-4)."""

    def __init__(self, d_model: int, num_heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, num_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, query: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        # context_mask: B x T bool, True where a context token may be attended to
        padding = None if context_mask is None else ~context_mask
        out, weights = self.attention(query, context, context, key_padding_mask=padding,
                                      need_weights=return_weights)
        out = self.norm(query + out)
        return (out, weights) if return_weights else out
