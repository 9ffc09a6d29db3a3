"""Position-wise feed-forward network and the encoder and decoder layers (section 3.1-3.3), and
the convolution module an encoder layer may add (Conformer's, for local context in speech)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import KVCache, MultiHeadAttention
from .dropout import Dropout

__all__ = ["FeedForward", "ConvModule", "EncoderLayer", "DecoderLayer", "ACTIVATIONS"]

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _residual(x: Tensor, sublayer, norm: nn.LayerNorm, norm_first: bool, dropout: nn.Module) -> tuple[Tensor, Tensor | None]:
    """Dropout + residual + LayerNorm around ``sublayer`` (h -> (output, attention weights or None)).

    Post-norm, the paper's: LayerNorm(x + Dropout(sublayer(x))); pre-norm: x + Dropout(sublayer(LayerNorm(x))).
    """
    if norm_first:
        h, weights = sublayer(norm(x))
        return x + dropout(h), weights
    h, weights = sublayer(x)
    return norm(x + dropout(h)), weights


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2 (the paper's, with ReLU or GELU)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.activation = _activation(activation)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class ConvModule(nn.Module):
    """Conformer's convolution module (Gulati et al. 2020): pointwise conv to 2d, GLU, depthwise conv
    over time, norm, SiLU, pointwise conv. Attention sees the whole sequence from the first update;
    this sees each position's neighbours, which speech learns slowly from attention alone.

    The norm is a LayerNorm over each position, not Conformer's BatchNorm, so padding never enters
    its statistics; padded positions are zeroed before the depthwise conv, so a sequence's output
    does not depend on what its batch pads it with.

    Conformer's closing dropout is the encoder layer's residual dropout, as for its other sub-layers.

    Args:
        d_model: width.
        kernel: the depthwise conv's width in positions, odd (15 in Conformer's recipes for 40 ms frames).
    """

    def __init__(self, d_model: int, kernel: int):
        super().__init__()
        if not (isinstance(kernel, int) and kernel > 0 and kernel % 2 == 1):
            raise ValueError(f"conv_kernel={kernel!r}: give an odd number of positions (e.g. 15), or 0 for no convolution")
        self.pointwise_in = nn.Linear(d_model, 2 * d_model)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2, groups=d_model)
        self.norm = nn.LayerNorm(d_model)
        self.pointwise_out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, pad_mask: Tensor | None = None) -> Tensor:
        """(B, T, d) and (B, T) padding mask (True = padding) -> (B, T, d)."""
        h = F.glu(self.pointwise_in(x), dim=-1)
        if pad_mask is not None:
            h = h.masked_fill(pad_mask.unsqueeze(-1), 0.0)
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)
        return self.pointwise_out(F.silu(self.norm(h)))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped in dropout + residual + LayerNorm.

    Args:
        norm_first: pre-norm (LayerNorm before each sub-layer) instead of the paper's post-norm.
        conv_kernel: > 0 adds a ``ConvModule`` of that width between attention and feed-forward,
            wrapped the same way (Conformer's order, without its half-step feed-forwards).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        conv_kernel: int = 0,
    ):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.conv = ConvModule(d_model, conv_kernel) if conv_kernel else None
        self.norm_conv = nn.LayerNorm(d_model, eps=layer_norm_eps) if conv_kernel else None
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, pad_mask: Tensor | None = None, need_weights: bool = False,
                attn_mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        # x: (B, T, d); attn_mask: a whole (B, 1, T, T) mask in place of pad_mask (packed rows)
        attend = lambda h: self.self_attn(h, key_pad_mask=pad_mask, need_weights=need_weights, attn_mask=attn_mask)
        x, weights = _residual(x, attend, self.norm1, self.norm_first, self.dropout)
        if self.conv is not None:
            x, _ = _residual(x, lambda h: (self.conv(h, pad_mask), None), self.norm_conv, self.norm_first, self.dropout)
        x, _ = _residual(x, lambda h: (self.feed_forward(h), None), self.norm2, self.norm_first, self.dropout)
        return x, weights


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention over the encoder memory, then feed-forward.

    Without cross-attention it is a decoder-only (GPT-style) block: causal self-attention and
    feed-forward, normalized by ``norm1`` and ``norm2`` as in ``EncoderLayer`` (no ``cross_attn``, no ``norm3``).

    Args:
        norm_first: as for ``EncoderLayer``.
        cross_attention: attend over a memory (encoder-decoder); ``False`` for a decoder-only stack.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        cross_attention: bool = True,
    ):
        super().__init__()
        self.norm_first, self.cross_attention = norm_first, cross_attention
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, cross=True) if cross_attention else None
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps) if cross_attention else None
        self.dropout = Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        memory_pad_mask: Tensor | None = None,
        pad_mask: Tensor | None = None,
        cache: tuple[KVCache, KVCache | None] | None = None,
        need_weights: bool = False,
        causal: bool = True,
        attn_mask: Tensor | None = None,
        memory_attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, tuple[Tensor | None, Tensor | None]]:
        # x: (B, T, d), memory: (B, S, d) or None; cache: (self-attention, cross-attention or None)
        # causal=False: self-attention over the whole target (DETR's object queries)
        # attn_mask (B, 1, T, T), memory_attn_mask (B, 1, T, S): whole masks in place of the padding
        # masks and causal (packed rows)
        self_cache, cross_cache = cache if cache is not None else (None, None)
        attend_self = lambda h: self.self_attn(h, key_pad_mask=pad_mask, causal=causal, cache=self_cache,
                                               need_weights=need_weights, attn_mask=attn_mask)
        x, self_weights = _residual(x, attend_self, self.norm1, self.norm_first, self.dropout)
        cross_weights, ff_norm = None, self.norm2
        if self.cross_attn is not None:
            attend_memory = lambda h: self.cross_attn(h, memory, key_pad_mask=memory_pad_mask, cache=cross_cache,
                                                      need_weights=need_weights, attn_mask=memory_attn_mask)
            x, cross_weights = _residual(x, attend_memory, self.norm2, self.norm_first, self.dropout)
            ff_norm = self.norm3
        x, _ = _residual(x, lambda h: (self.feed_forward(h), None), ff_norm, self.norm_first, self.dropout)
        return x, (self_weights, cross_weights)
