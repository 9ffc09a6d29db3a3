"""Position-wise feed-forward network and the encoder and decoder layers (section 3.1-3.3)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import KVCache, MultiHeadAttention
from .dropout import Dropout

__all__ = ["FeedForward", "EncoderLayer", "DecoderLayer", "ACTIVATIONS"]

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


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


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped in dropout + residual + LayerNorm.

    Args:
        norm_first: pre-norm (LayerNorm before each sub-layer) instead of the paper's post-norm.
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
    ):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, pad_mask: Tensor | None = None, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        # x: (B, T, d)
        attend = lambda h: self.self_attn(h, key_pad_mask=pad_mask, need_weights=need_weights)
        if self.norm_first:
            h, weights = attend(self.norm1(x))
            x = x + self.dropout(h)
            x = x + self.dropout(self.feed_forward(self.norm2(x)))
        else:
            h, weights = attend(x)
            x = self.norm1(x + self.dropout(h))
            x = self.norm2(x + self.dropout(self.feed_forward(x)))
        return x, weights


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention over the encoder memory, then feed-forward."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, cross=True)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None,
        memory_pad_mask: Tensor | None = None,
        pad_mask: Tensor | None = None,
        cache: tuple[KVCache, KVCache] | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, tuple[Tensor | None, Tensor | None]]:
        # x: (B, T, d), memory: (B, S, d); cache: (self-attention, cross-attention)
        self_cache, cross_cache = cache if cache is not None else (None, None)
        attend_self = lambda h: self.self_attn(h, key_pad_mask=pad_mask, causal=True, cache=self_cache, need_weights=need_weights)
        attend_memory = lambda h: self.cross_attn(
            h, memory, key_pad_mask=memory_pad_mask, cache=cross_cache, need_weights=need_weights
        )
        if self.norm_first:
            h, self_weights = attend_self(self.norm1(x))
            x = x + self.dropout(h)
            h, cross_weights = attend_memory(self.norm2(x))
            x = x + self.dropout(h)
            x = x + self.dropout(self.feed_forward(self.norm3(x)))
        else:
            h, self_weights = attend_self(x)
            x = self.norm1(x + self.dropout(h))
            h, cross_weights = attend_memory(x)
            x = self.norm2(x + self.dropout(h))
            x = self.norm3(x + self.dropout(self.feed_forward(x)))
        return x, (self_weights, cross_weights)
