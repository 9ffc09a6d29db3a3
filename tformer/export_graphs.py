"""Export-only modules: a task's graphs with plain tensors in and out (the KV cache included).

They reuse the task's own layers and weights; the decoder step re-states ``DecoderLayer.forward``
for one token with the past keys/values passed in and returned as stacked tensors
(layers, batch, heads, length, head_dim), which ONNX and ``torch.export`` can carry.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .core.positions import LearnedPositions, SinusoidalPositions, sinusoidal_table

__all__ = ["ClassifierGraph", "EncoderGraph", "DecoderStepGraph"]


def _heads(x: Tensor, parts: int, n_heads: int) -> Tensor:
    # (B, T, parts * d) -> (parts, B, H, T, Dh)
    B, T, _ = x.shape
    return x.view(B, T, parts, n_heads, -1).permute(2, 0, 3, 1, 4)


def _merge(x: Tensor) -> Tensor:
    # (B, H, T, Dh) -> (B, T, H * Dh)
    return x.transpose(1, 2).flatten(2)


class ClassifierGraph(nn.Module):
    """values, lengths (of the task's input field) -> logits (B, n_classes) of a classification task."""

    def __init__(self, task: Any):
        super().__init__()
        self.task = task

    def forward(self, values: Tensor, lengths: Tensor) -> Tensor:
        return self.task.logits(values, lengths)


class EncoderGraph(nn.Module):
    """values, lengths (of the task's input field) -> memory (B, S, d), memory_pad_mask (B, S), and
    every decoder layer's cross-attention keys and values (L, B, H, S, Dh), computed once per input."""

    def __init__(self, task: Any):
        super().__init__()
        self.tokenizer = task.fields[task.input_field]
        self.encoder, self.decoder = task.core.encoder, task.core.decoder

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x, pad_mask = self.tokenizer(values, lengths)
        memory = self.encoder(x, pad_mask)  # (B, S, d)
        keys, vals = [], []
        for layer in self.decoder.layers:
            k, v = layer.cross_attn.memory_keys_values(memory)  # (B, H, S, Dh) each
            keys.append(k)
            vals.append(v)
        return memory, pad_mask, torch.stack(keys), torch.stack(vals)


def _position_table(positions: nn.Module, max_len: int, d_model: int) -> Tensor:
    if isinstance(positions, SinusoidalPositions):
        return sinusoidal_table(max_len, d_model)
    if isinstance(positions, LearnedPositions):
        return positions.weight.detach()
    raise TypeError(f"cannot export a target with {type(positions).__name__} positions")


class DecoderStepGraph(nn.Module):
    """One greedy/beam step: the newest token and the cache -> next-token logits and the grown cache.

    Inputs: ``tokens`` (B, 1), ``memory_pad_mask`` (B, S), ``cross_keys``/``cross_values``
    (L, B, H, S, Dh) from ``EncoderGraph``, ``past_keys``/``past_values`` (L, B, H, t, Dh) with
    t = 0 at the first step. Outputs: ``logits`` (B, V) and ``keys``/``values`` (L, B, H, t + 1, Dh).

    Args:
        task: a translation or ASR task.
        max_len: output positions the step supports (sinusoidal targets).
    """

    def __init__(self, task: Any, max_len: int = 1024):
        super().__init__()
        self.target, self.decoder = task.target, task.core.decoder
        self.register_buffer("positions", _position_table(task.target.positions, max_len, task.target.d_model))

    def forward(self, tokens: Tensor, memory_pad_mask: Tensor, cross_keys: Tensor, cross_values: Tensor,
                past_keys: Tensor, past_values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        t = past_keys.size(3)
        x = self.target.embedding(tokens) * self.target.scale + self.positions.narrow(0, t, 1)  # (B, 1, d)
        allowed = ~memory_pad_mask[:, None, None, :]  # (B, 1, 1, S)
        allowed = allowed | ~allowed.any(dim=-1, keepdim=True)  # as the core: an all-padding row attends anyway
        keys, vals = [], []
        for i, layer in enumerate(self.decoder.layers):
            x, k, v = self._layer(layer, x, allowed, cross_keys[i], cross_values[i], past_keys[i], past_values[i])
            keys.append(k)
            vals.append(v)
        if self.decoder.norm is not None:
            x = self.decoder.norm(x)
        return self.target.project(x)[:, -1], torch.stack(keys), torch.stack(vals)

    @staticmethod
    def _layer(layer: nn.Module, x: Tensor, allowed: Tensor, cross_k: Tensor, cross_v: Tensor,
               past_k: Tensor, past_v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # DecoderLayer.forward for one cached step (dropout is off in eval).
        def attend_self(h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            q, k, v = _heads(layer.self_attn.qkv(h), 3, layer.self_attn.n_heads).unbind(0)  # (B, H, 1, Dh)
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)  # (B, H, t + 1, Dh)
            return layer.self_attn.out_proj(_merge(F.scaled_dot_product_attention(q, k, v))), k, v

        def attend_memory(h: Tensor) -> Tensor:
            q = _heads(layer.cross_attn.q_proj(h), 1, layer.cross_attn.n_heads)[0]
            return layer.cross_attn.out_proj(_merge(F.scaled_dot_product_attention(q, cross_k, cross_v, attn_mask=allowed)))

        if layer.norm_first:
            h, k, v = attend_self(layer.norm1(x))
            x = x + h
            x = x + attend_memory(layer.norm2(x))
            x = x + layer.feed_forward(layer.norm3(x))
        else:
            h, k, v = attend_self(x)
            x = layer.norm1(x + h)
            x = layer.norm2(x + attend_memory(x))
            x = layer.norm3(x + layer.feed_forward(x))
        return x, k, v
