"""Multi-head scaled dot-product attention (section 3.2) with a key/value cache, and the caches of
a whole decoder's layers for one decoding run."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dropout import dropout

__all__ = ["MultiHeadAttention", "KVCache", "StaticKVCache", "DecoderCache"]


class KVCache:
    """Keys and values of one attention module across decoding steps.

    Self-attention appends one step at a time into a buffer that doubles when full, so a
    step costs the same at position 256 as at 16; cross-attention fills it once per source.
    """

    def __init__(self):
        self.k: Tensor | None = None  # (B, H, capacity, Dh)
        self.v: Tensor | None = None
        self.length = 0

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        # k, v: (B, H, t, Dh) -> all keys/values so far, (B, H, length, Dh)
        end = self.length + k.size(2)
        if self.k is None or end > self.k.size(2):
            capacity = max(16, 2 * end)
            grown_k = k.new_empty(k.size(0), k.size(1), capacity, k.size(3))
            grown_v = v.new_empty(grown_k.shape)
            if self.k is not None:
                grown_k[:, :, : self.length] = self.k[:, :, : self.length]
                grown_v[:, :, : self.length] = self.v[:, :, : self.length]
            self.k, self.v = grown_k, grown_v
        self.k[:, :, self.length : end] = k
        self.v[:, :, self.length : end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def set(self, k: Tensor, v: Tensor) -> None:
        # Stored contiguous: every later step reads them (7% faster greedy steps than head-permuted views).
        self.k, self.v, self.length = k.contiguous(), v.contiguous(), k.size(2)

    def get(self) -> tuple[Tensor, Tensor]:
        return self.k[:, :, : self.length], self.v[:, :, : self.length]

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows ``index`` (beam search)."""
        if self.k is not None:
            self.k, self.v = self.k.index_select(0, index), self.v.index_select(0, index)


class StaticKVCache:
    """Self-attention keys and values in buffers of a fixed ``capacity``, written at a position
    kept on the device.

    Every step then has the same shapes and reads no number back to the host, so a compiled step
    can be captured once as a CUDA graph and replayed; the keys not yet written are masked
    (``visible``). ``offset`` is the decoding run's 0-d position tensor, shared by every layer;
    the run advances it in place.
    """

    def __init__(self, capacity: int, offset: Tensor):
        self.capacity, self.offset = capacity, offset
        self.k: Tensor | None = None  # (B, H, capacity, Dh)
        self.v: Tensor | None = None

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        # k, v: (B, H, t, Dh) at positions offset .. offset + t - 1 -> the whole buffers
        if self.k is None:
            self.k = k.new_zeros(k.size(0), k.size(1), self.capacity, k.size(3))
            self.v = v.new_zeros(self.k.shape)
            if self.k.is_cuda:  # a captured CUDA graph may write into them: their addresses never change
                for buffer in (self.k, self.v, self.offset):
                    torch._dynamo.mark_static_address(buffer)
        index = self.offset + torch.arange(k.size(2), device=k.device)
        self.k.index_copy_(2, index, k)
        self.v.index_copy_(2, index, v)
        return self.k, self.v

    def visible(self, n_queries: int) -> Tensor:
        """(1, 1, n_queries, capacity) bool: the query at ``offset + i`` sees the keys up to it."""
        queries = self.offset + torch.arange(n_queries, device=self.offset.device)
        return (torch.arange(self.capacity, device=self.offset.device)[None, :] <= queries[:, None])[None, None]

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows ``index`` (beam search), in the same buffers (a captured graph reads them)."""
        if self.k is not None:
            self.k.copy_(self.k.index_select(0, index))
            self.v.copy_(self.v.index_select(0, index))


class MultiHeadAttention(nn.Module):
    """Multi-head attention through ``F.scaled_dot_product_attention``.

    Self-attention uses one fused projection ``qkv`` (rows: query, key, value); cross-attention
    projects the query with ``q_proj`` and the memory with a fused ``kv_proj``.

    Args:
        d_model: model width.
        n_heads: number of heads; must divide ``d_model``.
        dropout: dropout on the attention weights (training only).
        bias: whether projections have a bias.
        cross: cross-attention (queries attend over a separate memory).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True, cross: bool = False):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.dropout, self.cross = dropout, cross
        if cross:
            self.q_proj = nn.Linear(d_model, d_model, bias=bias)
            self.kv_proj = nn.Linear(d_model, 2 * d_model, bias=bias)
        else:
            self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        query: Tensor,
        memory: Tensor | None = None,
        key_pad_mask: Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
        need_weights: bool = False,
        attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` (B, T, d) over itself or over ``memory`` (B, S, d).

        Args:
            key_pad_mask: (B, S) bool, True where a key is padding.
            causal: position t attends only to keys <= t (ignored for one cached step).
            cache: keys/values of earlier steps (self: a ``KVCache`` or a ``StaticKVCache``) or of
                the memory (cross).
            need_weights: also return the (B, H, T, S) attention weights.
            attn_mask: a whole (B, 1, T, S) bool mask, True = may attend (packed rows:
                ``tformer.core.packing.segment_mask``); it replaces ``key_pad_mask`` and ``causal``.
        """
        self._check(query, memory, key_pad_mask, cache)
        q, k, v = self._project(query, memory, cache)  # (B, H, T, Dh), (B, H, S, Dh) x2
        if isinstance(cache, StaticKVCache):  # keys past the newest are not written yet
            attn_mask = cache.visible(q.size(2))
        causal = causal and q.size(2) > 1 and attn_mask is None
        explicit = need_weights or self._cpu_dropout(q)
        mask = attn_mask if attn_mask is not None else _attention_mask(key_pad_mask, causal, q.size(2), k.size(2),
                                                                       q.device, explicit=explicit)
        if explicit:
            out, weights = self._attend_explicitly(q, k, v, mask)
        else:
            dropout_p = self.dropout if self.training else 0.0
            is_causal = causal and mask is None
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)
            weights = None
        out = out.transpose(1, 2).reshape(query.size(0), query.size(1), self.d_model)  # (B, T, d)
        return self.out_proj(out), weights if need_weights else None

    def _cpu_dropout(self, q: Tensor) -> bool:
        # SDPA has no fused CPU kernel with dropout; its fallback draws the mask with bernoulli_
        # and took 1.4x the time of the explicit path with tformer's dropout (32 tokens, 4 heads).
        return self.training and self.dropout > 0.0 and q.device.type == "cpu"

    def _project(self, query: Tensor, memory: Tensor | None, cache: KVCache | None) -> tuple[Tensor, Tensor, Tensor]:
        if not self.cross:
            q, k, v = self._heads(self.qkv(query))
            if cache is not None:
                k, v = cache.append(k, v)
            return q, k, v
        q = self._heads(self.q_proj(query))[0]
        if cache is not None and cache.k is not None:
            return (q, *cache.get())
        k, v = self.memory_keys_values(memory)
        if cache is not None:
            cache.set(k, v)
        return q, k, v

    def memory_keys_values(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values of ``memory`` (B, S, d): two (B, H, S, Dh) tensors.

        A decoder computes them once per source and keeps them in a ``KVCache`` (``cache.set``).
        """
        if not self.cross:
            raise ValueError("memory keys and values belong to cross-attention (cross=True)")
        k, v = self._heads(self.kv_proj(memory))
        return k, v

    def _heads(self, x: Tensor) -> tuple[Tensor, ...]:
        # (B, T, n*d) -> n x (B, H, T, Dh). Split before moving the heads: backward then concatenates
        # the n gradients in place of stacking and re-copying them (4% off a ViT attention block).
        B, T, _ = x.shape
        return tuple(part.view(B, T, self.n_heads, self.head_dim).transpose(1, 2) for part in x.split(self.d_model, dim=-1))

    def _attend_explicitly(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, S)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1)
        dropped = dropout(weights, self.dropout, self.training)
        return dropped @ v, weights  # (B, H, T, Dh), (B, H, T, S)

    def _check(self, query: Tensor, memory: Tensor | None, key_pad_mask: Tensor | None, cache: KVCache | None) -> None:
        if query.dim() != 3 or query.size(-1) != self.d_model:
            raise ValueError(f"query must be (batch, length, {self.d_model}), got {tuple(query.shape)}")
        cached_memory = self.cross and cache is not None and cache.k is not None
        if self.cross and memory is None and not cached_memory:
            raise ValueError("cross-attention needs a memory (or a filled cache)")
        if memory is not None and (memory.dim() != 3 or memory.shape[0::2] != (query.size(0), self.d_model)):
            raise ValueError(f"memory must be ({query.size(0)}, length, {self.d_model}), got {tuple(memory.shape)}")
        if key_pad_mask is None:
            return
        if cached_memory:
            n_keys = cache.length
        elif self.cross:
            n_keys = memory.size(1)
        else:
            n_keys = query.size(1) + (cache.length if cache is not None else 0)
        if key_pad_mask.dtype != torch.bool or tuple(key_pad_mask.shape) != (query.size(0), n_keys):
            raise ValueError(
                f"key padding mask must be bool of shape ({query.size(0)}, {n_keys}) (True = padding), "
                f"got {key_pad_mask.dtype} {tuple(key_pad_mask.shape)}"
            )


def _attention_mask(
    key_pad_mask: Tensor | None, causal: bool, n_queries: int, n_keys: int, device: torch.device, explicit: bool = False
) -> Tensor | None:
    """Boolean mask for SDPA (True = may attend), broadcastable to (B, H, T, S), or None.

    A plain causal mask over equal lengths is left to SDPA's ``is_causal`` unless ``explicit``. A query whose keys
    are all padding would give NaN; it attends over them instead (its output is ignored).
    """
    if key_pad_mask is None and (not causal or (n_queries == n_keys and not explicit)):
        return None
    allowed = None
    if causal:  # query t (the last n_queries of n_keys positions) sees keys <= t
        allowed = torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(n_keys - n_queries)
    if key_pad_mask is not None:
        keys = ~key_pad_mask[:, None, None, :]  # (B, 1, 1, S)
        allowed = keys if allowed is None else keys & allowed
        allowed = allowed | ~allowed.any(dim=-1, keepdim=True)
    return allowed


class DecoderCache:
    """Per-layer key/value caches of one decoding run, and the position reached.

    ``layers`` holds one (self-attention, cross-attention) pair per layer; the second is ``None``
    in a decoder-only stack. With a ``capacity`` the self-attention caches are static
    (``StaticKVCache``, room for that many positions) and ``offset`` is a 0-d tensor on ``device``.
    """

    def __init__(self, n_layers: int, memory_pad_mask: Tensor | None = None, cross_attention: bool = True,
                 capacity: int | None = None, device: torch.device | str | None = None):
        self.memory_pad_mask = memory_pad_mask
        self.offset: int | Tensor = 0 if capacity is None else torch.zeros((), dtype=torch.long, device=device)
        self_cache = KVCache if capacity is None else lambda: StaticKVCache(capacity, self.offset)
        self.layers = [(self_cache(), KVCache() if cross_attention else None) for _ in range(n_layers)]

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows ``index`` of the self-attention caches (beam search).

        ``index`` must move rows only among rows with the same memory (the beams of one source),
        so the cross-attention keys/values and the memory mask stay as they are, uncopied.
        """
        for self_cache, _ in self.layers:
            self_cache.reorder(index)
