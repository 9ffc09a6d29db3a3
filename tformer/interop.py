"""Import weights from peer implementations into tformer modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .core import Decoder, EncoderDecoder
from .core.attention import MultiHeadAttention
from .core.layers import FeedForward

__all__ = ["from_torch_transformer", "from_torch_causal_encoder", "from_timm_vit"]


def from_torch_transformer(model: nn.Transformer) -> EncoderDecoder:
    """Build an ``EncoderDecoder`` with the same shape and weights as ``model``.

    The result is batch-first, whatever ``model.batch_first`` is; both give the same outputs.
    ``nn.Transformer`` always ends each stack with a LayerNorm, so the import keeps them.
    """
    if not isinstance(model, nn.Transformer):
        raise TypeError(f"expected torch.nn.Transformer, got {type(model).__name__}")
    first = model.encoder.layers[0]
    core = EncoderDecoder(
        d_model=model.d_model,
        n_heads=model.nhead,
        n_encoder_layers=len(model.encoder.layers),
        n_decoder_layers=len(model.decoder.layers),
        d_ff=first.linear1.out_features,
        dropout=first.dropout.p,
        norm_first=first.norm_first,
        activation=_activation_name(first.activation),
        layer_norm_eps=first.norm1.eps,
        final_norm=True,
    )
    core.to(next(model.parameters()).dtype)
    with torch.no_grad():
        for ours, theirs in zip(core.encoder.layers, model.encoder.layers):
            _copy_attention(ours.self_attn, theirs.self_attn)
            _copy_feed_forward(ours.feed_forward, theirs)
            _copy_norms(ours, theirs, 2)
        for ours, theirs in zip(core.decoder.layers, model.decoder.layers):
            _copy_attention(ours.self_attn, theirs.self_attn)
            _copy_attention(ours.cross_attn, theirs.multihead_attn)
            _copy_feed_forward(ours.feed_forward, theirs)
            _copy_norms(ours, theirs, 3)
        _copy_module(core.encoder.norm, model.encoder.norm)
        _copy_module(core.decoder.norm, model.decoder.norm)
    return core


def from_torch_causal_encoder(model: nn.TransformerEncoder) -> Decoder:
    """Build a decoder-only ``Decoder`` (``cross_attention=False``) with ``model``'s shape and weights.

    An ``nn.TransformerEncoder`` run with a causal mask is a decoder-only (GPT-style) stack: the
    same layers (self-attention, feed-forward, ``norm1``, ``norm2``) and its optional final ``norm``.
    """
    if not isinstance(model, nn.TransformerEncoder):
        raise TypeError(f"expected torch.nn.TransformerEncoder, got {type(model).__name__}")
    first = model.layers[0]
    decoder = Decoder(
        d_model=first.self_attn.embed_dim,
        n_heads=first.self_attn.num_heads,
        n_layers=len(model.layers),
        d_ff=first.linear1.out_features,
        dropout=first.dropout.p,
        norm_first=first.norm_first,
        activation=_activation_name(first.activation),
        layer_norm_eps=first.norm1.eps,
        final_norm=model.norm is not None,
        cross_attention=False,
    )
    decoder.to(next(model.parameters()).dtype)
    with torch.no_grad():
        for ours, theirs in zip(decoder.layers, model.layers):
            _copy_attention(ours.self_attn, theirs.self_attn)
            _copy_feed_forward(ours.feed_forward, theirs)
            _copy_norms(ours, theirs, 2)
        _copy_module(decoder.norm, model.norm)
    return decoder


def _activation_name(activation) -> str:
    if activation is F.relu or isinstance(activation, nn.ReLU):
        return "relu"
    if activation is F.gelu or (isinstance(activation, nn.GELU) and activation.approximate == "none"):
        return "gelu"
    raise ValueError(f"unsupported activation {activation!r}: tformer imports relu and exact gelu")


def _copy_attention(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    if not theirs._qkv_same_embed_dim:
        raise ValueError("nn.MultiheadAttention with kdim/vdim different from embed_dim is not supported")
    if theirs.bias_k is not None:
        raise ValueError("nn.MultiheadAttention with add_bias_kv is not supported")
    weight, bias = theirs.in_proj_weight, theirs.in_proj_bias
    d = ours.d_model
    if ours.cross:
        ours.q_proj.weight.copy_(weight[:d])
        ours.kv_proj.weight.copy_(weight[d:])
        if bias is not None:
            ours.q_proj.bias.copy_(bias[:d])
            ours.kv_proj.bias.copy_(bias[d:])
    else:
        ours.qkv.weight.copy_(weight)
        if bias is not None:
            ours.qkv.bias.copy_(bias)
    _copy_module(ours.out_proj, theirs.out_proj)


def _copy_feed_forward(ours: FeedForward, theirs: nn.Module) -> None:
    _copy_module(ours.linear1, theirs.linear1)
    _copy_module(ours.linear2, theirs.linear2)


def _copy_norms(ours: nn.Module, theirs: nn.Module, count: int) -> None:
    for i in range(1, count + 1):
        _copy_module(getattr(ours, f"norm{i}"), getattr(theirs, f"norm{i}"))


def _copy_module(ours: nn.Module | None, theirs: nn.Module | None) -> None:
    if (ours is None) != (theirs is None):
        raise ValueError(f"layer mismatch while importing: {ours!r} vs {theirs!r}")
    if ours is not None:
        ours.load_state_dict(theirs.state_dict())


def from_timm_vit(model: nn.Module):
    """Import a timm ``VisionTransformer``; see ``tformer.interop_timm.from_timm_vit``."""
    from .interop_timm import from_timm_vit as _from_timm_vit

    return _from_timm_vit(model)
