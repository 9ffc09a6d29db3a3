"""Encoder, Decoder and EncoderDecoder stacks over already-embedded sequences."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .attention import DecoderCache
from .config import RecordsArguments
from .layers import DecoderLayer, EncoderLayer
from .packing import check_packing, plan, segment_mask

__all__ = ["Encoder", "Decoder", "EncoderDecoder"]


def _check_sequence(x: Tensor, pad_mask: Tensor | None, d_model: int, name: str) -> None:
    if x.dim() != 3 or x.size(-1) != d_model:
        raise ValueError(f"{name} must be (batch, length, {d_model}), got {tuple(x.shape)}")
    if pad_mask is not None and (pad_mask.dtype != torch.bool or pad_mask.shape != x.shape[:2]):
        raise ValueError(
            f"{name} padding mask must be bool of shape {tuple(x.shape[:2])} (True = padding), "
            f"got {pad_mask.dtype} {tuple(pad_mask.shape)}"
        )


def _run_layer(layer: nn.Module, checkpointed: bool, *args, **kwargs):
    """``layer(*args, **kwargs)``; with ``checkpointed``, in training with gradients, through
    ``torch.utils.checkpoint``: the layer keeps only its inputs for the backward pass and runs
    again there (dropout draws the same masks: the random state is restored)."""
    if checkpointed and layer.training and torch.is_grad_enabled():
        return checkpoint(layer, *args, use_reentrant=False, **kwargs)
    return layer(*args, **kwargs)


def _final_norm(final_norm: bool | None, norm_first: bool, d_model: int, eps: float) -> nn.LayerNorm | None:
    # Pre-norm stacks need a closing LayerNorm; the paper's post-norm stack does not.
    use = norm_first if final_norm is None else final_norm
    return nn.LayerNorm(d_model, eps=eps) if use else None


class Encoder(RecordsArguments, nn.Module):
    """A stack of ``n_layers`` encoder layers.

    Args:
        d_model, n_heads, d_ff, dropout, activation, layer_norm_eps: as in the paper / ``nn.Transformer``.
        norm_first: pre-norm layers instead of the paper's post-norm.
        final_norm: LayerNorm after the last layer; ``None`` means "iff ``norm_first``".
        checkpoint_activations: in training, keep only each layer's input for the backward pass
            and recompute the rest there (activation checkpointing): less memory, one more
            forward pass of the layers.
        packing: run the layers on packed rows (``tformer.core.packing``): the right-padded
            sequences of a batch share rows, kept apart by a block-diagonal mask, and the
            output is unpacked to the input's shape. ``True``: rows as long as the batch's
            longest sequence; an int: rows of at least that many positions. Needs a padding
            mask; with ``need_weights`` the layers run unpacked (weights per sequence).
        conv_kernel: > 0 gives each layer a convolution module of that odd width
            (``tformer.core.layers.ConvModule``, Conformer's): local context for speech.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        final_norm: bool | None = None,
        checkpoint_activations: bool = False,
        packing: bool | int = False,
        conv_kernel: int = 0,
    ):
        super().__init__()
        self.d_model, self.checkpoint_activations = d_model, checkpoint_activations
        self.packing = check_packing(packing)
        if self.packing and conv_kernel:
            raise ValueError(f"packing={packing!r} with conv_kernel={conv_kernel}: a convolution would reach across the "
                             "sequences a packed row holds; set packing to false, or conv_kernel to 0")
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation, layer_norm_eps, conv_kernel)
            for _ in range(n_layers)
        )
        self.norm = _final_norm(final_norm, norm_first, d_model, layer_norm_eps)

    def forward(self, x: Tensor, pad_mask: Tensor | None = None, need_weights: bool = False):
        """(B, T, d) and (B, T) padding mask -> (B, T, d); with ``need_weights`` also a list of
        (B, H, T, T) attention weights, one per layer."""
        _check_sequence(x, pad_mask, self.d_model, "encoder input")
        if self.packing and pad_mask is not None and not need_weights:
            return self._packed(x, pad_mask)
        weights = []
        for layer in self.layers:
            x, w = _run_layer(layer, self.checkpoint_activations, x, pad_mask, need_weights)
            weights.append(w)
        if self.norm is not None:
            x = self.norm(x)
        return (x, weights) if need_weights else x

    def _packed(self, x: Tensor, pad_mask: Tensor) -> Tensor:
        (packing,) = plan([pad_mask], self.packing)
        h, mask = packing.pack(x), segment_mask(packing.segments, packing.segments)
        for layer in self.layers:
            h, _ = _run_layer(layer, self.checkpoint_activations, h, None, False, attn_mask=mask)
        if self.norm is not None:
            h = self.norm(h)
        return packing.unpack(h)


class Decoder(RecordsArguments, nn.Module):
    """A stack of decoder layers, run on a whole target (teacher forcing) or step by step.

    Args: as for ``Encoder``, plus
        cross_attention: layers attend over an encoder memory; ``False`` gives a decoder-only
            (GPT-style) stack of causal self-attention and feed-forward, run without memory.
        checkpoint_activations: as for ``Encoder``; in teacher-forced training only (``step``,
            the cached decoding, never recomputes).
        packing: as for ``Encoder``, in teacher-forced ``forward`` given a target padding mask:
            each target shares its row with its own memory, which it alone cross-attends to.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        final_norm: bool | None = None,
        cross_attention: bool = True,
        checkpoint_activations: bool = False,
        packing: bool | int = False,
    ):
        super().__init__()
        self.d_model, self.cross_attention = d_model, cross_attention
        self.checkpoint_activations, self.packing = checkpoint_activations, check_packing(packing)
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first, activation, layer_norm_eps, cross_attention)
            for _ in range(n_layers)
        )
        self.norm = _final_norm(final_norm, norm_first, d_model, layer_norm_eps)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        memory_pad_mask: Tensor | None = None,
        pad_mask: Tensor | None = None,
        need_weights: bool = False,
        causal: bool = True,
        every_layer: bool = False,
    ):
        """Teacher-forced: (B, T, d) target embeddings, (B, S, d) memory (``None`` without
        cross-attention) -> (B, T, d).

        ``pad_mask`` may be left out for right-padded targets: the causal mask already keeps
        every real position from seeing the padding after it; a packing decoder reads it to find
        each target's length (``uses_pad_mask``). With ``need_weights`` also a list
        of (self, cross) attention weights per layer (cross is ``None`` without cross-attention).

        ``causal=False``: every position attends to every other, as a set of object queries does
        (DETR); ``every_layer``: (n_layers, B, T, d), each layer's output through the final norm
        where there is one (DETR's auxiliary losses read every layer).
        """
        _check_sequence(x, pad_mask, self.d_model, "decoder input")
        self._check_memory(memory, memory_pad_mask)
        if self.packing and pad_mask is not None and causal and not need_weights:
            return self._packed(x, pad_mask, memory, memory_pad_mask, every_layer)
        weights, states = [], []
        for layer in self.layers:
            x, w = _run_layer(layer, self.checkpoint_activations, x, memory, memory_pad_mask, pad_mask,
                              need_weights=need_weights, causal=causal)
            weights.append(w)
            states.append(x)
        out = torch.stack([self._normed(h) for h in states]) if every_layer else self._normed(x)
        return (out, weights) if need_weights else out

    @property
    def uses_pad_mask(self) -> bool:
        """Whether teacher-forced ``forward`` on right-padded targets needs their padding mask (to pack)."""
        return bool(self.packing)

    def _packed(self, x: Tensor, pad_mask: Tensor, memory: Tensor | None, memory_pad_mask: Tensor | None,
                every_layer: bool) -> Tensor:
        if memory is not None and memory_pad_mask is None:
            memory_pad_mask = torch.zeros(memory.shape[:2], dtype=torch.bool, device=memory.device)
        sides = plan([pad_mask] if memory is None else [pad_mask, memory_pad_mask], self.packing)
        h, segments = sides[0].pack(x), sides[0].segments
        self_mask = segment_mask(segments, segments, causal=True)
        packed_memory = memory_mask = None
        if memory is not None:
            packed_memory, memory_mask = sides[1].pack(memory), segment_mask(segments, sides[1].segments)
        states = []
        for layer in self.layers:
            h, _ = _run_layer(layer, self.checkpoint_activations, h, packed_memory,
                              attn_mask=self_mask, memory_attn_mask=memory_mask)
            states.append(h)
        if every_layer:
            return torch.stack([sides[0].unpack(self._normed(state)) for state in states])
        return sides[0].unpack(self._normed(h))

    def _normed(self, x: Tensor) -> Tensor:
        return self.norm(x) if self.norm is not None else x

    def init_cache(self, memory: Tensor | None = None, memory_pad_mask: Tensor | None = None,
                   capacity: int | None = None) -> DecoderCache:
        """An empty cache; with cross-attention, every layer's keys/values of ``memory`` computed once.
        With a ``capacity``, static self-attention caches of that many positions (``DecoderCache``)."""
        self._check_memory(memory, memory_pad_mask)
        device = memory.device if memory is not None else next(self.parameters()).device
        cache = DecoderCache(len(self.layers), memory_pad_mask, self.cross_attention, capacity, device)
        if self.cross_attention:
            for layer, (_, cross_cache) in zip(self.layers, cache.layers):
                cross_cache.set(*layer.cross_attn.memory_keys_values(memory))
        return cache

    def step(self, x: Tensor, cache: DecoderCache, need_weights: bool = False,
             memory_attn_masks: Sequence[Tensor | None] | None = None):
        """Cached decoding: (B, t, d) embeddings of the newest t tokens (a whole prompt, then one
        token a step) -> (B, t, d); each attends causally to itself and everything cached.

        ``memory_attn_masks``: one entry per layer, a (B, H or 1, t, S) bool mask (True = may
        attend) in place of the memory padding mask, or None to keep it there (speech synthesis
        holds some heads to a window of the text this way). With ``need_weights`` also a list of
        each layer's cross-attention weights (B, H, t, S).
        """
        _check_sequence(x, None, self.d_model, "decoder step input")
        masks = [None] * len(self.layers) if memory_attn_masks is None else list(memory_attn_masks)
        if len(masks) != len(self.layers):
            raise ValueError(f"memory_attn_masks needs one entry per decoder layer ({len(self.layers)}), got {len(masks)}")
        weights = []
        for layer, layer_cache, mask in zip(self.layers, cache.layers, masks):
            x, (_, cross) = layer(x, None, cache.memory_pad_mask, cache=layer_cache, need_weights=need_weights,
                                  memory_attn_mask=mask)
            weights.append(cross)
        cache.offset += x.size(1)  # a static cache's tensor, in place: every layer's cache holds it
        return (self._normed(x), weights) if need_weights else self._normed(x)

    def _check_memory(self, memory: Tensor | None, memory_pad_mask: Tensor | None) -> None:
        if not self.cross_attention:
            if memory is not None or memory_pad_mask is not None:
                raise ValueError("this decoder has no cross-attention (cross_attention=False): pass no memory")
            return
        if memory is None:
            raise ValueError("this decoder attends over a memory (cross_attention=True): pass one")
        _check_sequence(memory, memory_pad_mask, self.d_model, "memory")


class EncoderDecoder(RecordsArguments, nn.Module):
    """The paper's Transformer without embeddings: ``Encoder`` + ``Decoder``.

    Args:
        d_model: width (512 in the paper's base model).
        n_heads: attention heads (8).
        n_encoder_layers, n_decoder_layers: stack depths (6 + 6).
        d_ff: feed-forward inner width (2048).
        dropout: residual, attention and feed-forward dropout (0.1).
        norm_first: pre-norm instead of post-norm.
        activation, layer_norm_eps, final_norm, checkpoint_activations, packing: as for ``Encoder``.
        conv_kernel: the encoder's (``Encoder``); the decoder, which reads its past only, has none.
    """

    def __init__(
        self,
        d_model: int = 512,
        n_heads: int = 8,
        n_encoder_layers: int = 6,
        n_decoder_layers: int = 6,
        d_ff: int = 2048,
        dropout: float = 0.1,
        norm_first: bool = False,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        final_norm: bool | None = None,
        checkpoint_activations: bool = False,
        packing: bool | int = False,
        conv_kernel: int = 0,
    ):
        super().__init__()
        self.d_model = d_model
        common = dict(dropout=dropout, norm_first=norm_first, activation=activation, layer_norm_eps=layer_norm_eps,
                      final_norm=final_norm, checkpoint_activations=checkpoint_activations, packing=packing)
        self.encoder = Encoder(d_model, n_heads, n_encoder_layers, d_ff, conv_kernel=conv_kernel, **common)
        self.decoder = Decoder(d_model, n_heads, n_decoder_layers, d_ff, **common)

    def forward(self, src: Tensor, tgt: Tensor, src_pad_mask: Tensor | None = None, tgt_pad_mask: Tensor | None = None) -> Tensor:
        """(B, S, d) source and (B, T, d) shifted target embeddings -> (B, T, d) decoder states."""
        memory = self.encoder(src, src_pad_mask)
        return self.decoder(tgt, memory, src_pad_mask, tgt_pad_mask)

    def encode(self, src: Tensor, src_pad_mask: Tensor | None = None) -> Tensor:
        return self.encoder(src, src_pad_mask)
