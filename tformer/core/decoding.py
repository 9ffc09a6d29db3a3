"""What a generator drives: one ``step(tokens, cache) -> logits`` callable, a cache and a prefix.

Greedy, beam and sampling search (``search.py``) see only a ``Decoding``; they do not know
whether a memory, an embedding table or a tokenizer sits behind the step. The builders here make
one from the cached ``Decoder`` and the ``embed_step(ids, offset)`` / ``project(hidden)`` pair an
output tokenizer offers.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor

from .attention import DecoderCache
from .transformer import Decoder

__all__ = ["Decoding", "encoder_decoder_decoding", "decoder_only_decoding", "EmbedStep", "Project"]

EmbedStep = Callable[[Tensor, int], Tensor]  # (N, t) ids, position of the first -> (N, t, d)
Project = Callable[[Tensor], Tensor]  # (N, t, d) -> (N, t, V) logits


class Decoding(NamedTuple):
    """One batch to decode, as a generator sees it.

    Attributes:
        step: ``(N, t)`` newest ids and the cache -> ``(N, V)`` logits of the next token. The first
            call gets the whole prefix, later calls one token; the cache advances by ``t``.
        new_cache: ``copies`` -> an empty cache for ``B * copies`` rows, the copies of one input
            adjacent (beam search asks for ``beam_size``); it has ``reorder(index)`` for beams.
        prefix: ``(B, P)`` ids every output starts from: ``<bos>``, or ``<bos>`` + a prompt.
        eos_id: the id that ends an output.
        max_len: ``(B,)`` most tokens to generate per row, EOS included.
    """

    step: Callable[[Tensor, Any], Tensor]
    new_cache: Callable[[int], Any]
    prefix: Tensor
    eos_id: int
    max_len: Tensor


def encoder_decoder_decoding(
    decoder: Decoder,
    memory: Tensor,
    memory_pad_mask: Tensor | None,
    embed_step: EmbedStep,
    project: Project,
    bos_id: int,
    eos_id: int,
    max_len: int | Tensor,
    static: bool = False,
    compiled: bool = False,
) -> Decoding:
    """Decode from ``<bos>`` with a decoder attending over ``memory`` (B, S, d).

    Args:
        memory_pad_mask: (B, S) bool, True where the memory is padding.
        embed_step, project: the output tokenizer's step embedding and output layer.
        max_len: an int, or (B,) per source (e.g. source length + 50).
        static: static self-attention caches, as long as the longest output (``StaticKVCache``):
            every step the same shapes, no number read back to the host inside a step.
        compiled: also run the steps through ``torch.compile`` (``static`` implied); on CUDA in
            ``mode="reduce-overhead"``, which captures the step once as a CUDA graph and replays it.
    """
    batch = memory.size(0)
    max_len = _max_lengths(max_len, batch, memory.device)
    capacity = 1 + int(max_len.max()) if (static or compiled) and batch else None

    def new_cache(copies: int) -> DecoderCache:
        if copies == 1:
            return decoder.init_cache(memory, memory_pad_mask, capacity)
        mask = memory_pad_mask.repeat_interleave(copies, dim=0) if memory_pad_mask is not None else None
        return decoder.init_cache(memory.repeat_interleave(copies, dim=0), mask, capacity)  # (B*copies, S, d)

    prefix = torch.full((batch, 1), bos_id, dtype=torch.long, device=memory.device)
    return Decoding(_cached_step(decoder, embed_step, project, compiled), new_cache, prefix, eos_id, max_len)


def decoder_only_decoding(
    decoder: Decoder,
    prefix: Tensor,
    embed_step: EmbedStep,
    project: Project,
    eos_id: int,
    max_len: int | Tensor,
    static: bool = False,
    compiled: bool = False,
) -> Decoding:
    """Continue ``prefix`` (B, P) (``<bos>`` + a prompt, all rows the same length) with a
    decoder-only stack (``Decoder(..., cross_attention=False)``); ``static``, ``compiled``: as for
    ``encoder_decoder_decoding``."""
    if decoder.cross_attention:
        raise ValueError("decoder_only_decoding needs a Decoder built with cross_attention=False")
    if prefix.dim() != 2 or prefix.size(1) == 0:
        raise ValueError(f"prefix must be (batch, length >= 1) ids, got shape {tuple(prefix.shape)}")
    max_len = _max_lengths(max_len, prefix.size(0), prefix.device)
    capacity = prefix.size(1) + int(max_len.max()) if (static or compiled) and prefix.size(0) else None
    return Decoding(_cached_step(decoder, embed_step, project, compiled),
                    lambda copies: decoder.init_cache(capacity=capacity), prefix, eos_id, max_len)


def _cached_step(decoder: Decoder, embed_step: EmbedStep, project: Project,
                 compiled: bool = False) -> Callable[[Tensor, DecoderCache], Tensor]:
    def step(ids: Tensor, cache: DecoderCache) -> Tensor:
        hidden = decoder.step(embed_step(ids, cache.offset), cache)  # (N, t, d)
        return project(hidden[:, -1:])[:, -1]  # (N, V): only the last position is needed

    if not compiled:
        return step
    on_cuda = next(decoder.parameters()).device.type == "cuda"
    fast = torch.compile(step, mode="reduce-overhead" if on_cuda else None, fullgraph=True, dynamic=False)

    def compiled_step(ids: Tensor, cache: DecoderCache) -> Tensor:
        # The first step (the prefix) allocates the static buffers and runs eagerly; every later
        # step has one shape and replays the compiled one.
        first = cache.layers[0][0].k is None
        return (step if first else fast)(ids, cache)

    return compiled_step


def _max_lengths(max_len: int | Tensor, batch: int, device: torch.device) -> Tensor:
    if isinstance(max_len, int):
        return torch.full((batch,), max_len, dtype=torch.long, device=device)
    if max_len.shape != (batch,):
        raise ValueError(f"max_len must be an int or a ({batch},) tensor, got shape {tuple(max_len.shape)}")
    return max_len.to(device)
