"""The decoder without cross-attention: a decoder-only (GPT-style) stack."""

import pytest
import torch
from torch import nn

from tformer.core import Decoder, DecoderLayer
from tformer.interop import from_torch_causal_encoder


def _pad_mask(lengths, total):
    return torch.arange(total)[None, :] >= torch.tensor(lengths)[:, None]


def _torch_causal_encoder(d, heads, n_layers, d_ff, activation, norm_first, final_norm):
    layer = nn.TransformerEncoderLayer(d, heads, d_ff, activation=activation, batch_first=True, norm_first=norm_first)
    norm = nn.LayerNorm(d) if final_norm else None
    return nn.TransformerEncoder(layer, n_layers, norm=norm, enable_nested_tensor=False).eval()


SHAPES = [  # d_model, heads, layers, d_ff, activation, final norm
    (32, 4, 2, 64, "relu", True),
    (24, 3, 3, 40, "gelu", False),
]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_torch_transformer_encoder_with_a_causal_mask(shape, norm_first):
    d, heads, n_layers, d_ff, activation, final_norm = shape
    torch.manual_seed(0)
    theirs = _torch_causal_encoder(d, heads, n_layers, d_ff, activation, norm_first, final_norm)
    ours = from_torch_causal_encoder(theirs).eval()
    assert ours.cross_attention is False and (ours.norm is not None) == final_norm
    x, pad = torch.randn(3, 9, d), _pad_mask([9, 6, 2], 9)
    causal = nn.Transformer.generate_square_subsequent_mask(9)
    with torch.no_grad():
        ref = theirs(x, mask=causal, src_key_padding_mask=pad, is_causal=True)
        out, no_pad = ours(x, pad_mask=pad), ours(x)
        ref_no_pad = theirs(x, mask=causal, is_causal=True)
    real = ~pad
    torch.testing.assert_close(out[real], ref[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(no_pad, ref_no_pad, atol=1e-5, rtol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("chunks", [[1] * 12, [5, 1, 1, 1, 1, 1, 1, 1], [3, 4, 1, 4], [12]])
def test_cached_steps_equal_teacher_forcing(norm_first, chunks):
    # A prompt of several tokens goes through the cache in one step, then one token a step.
    torch.manual_seed(1)
    decoder = Decoder(16, 2, 3, 32, norm_first=norm_first, cross_attention=False).eval()
    x = torch.randn(2, 12, 16)
    full = decoder(x)
    cache = decoder.init_cache()
    steps, start = [], 0
    for size in chunks:
        steps.append(decoder.step(x[:, start : start + size], cache))
        start += size
    assert cache.offset == 12
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_cached_steps_equal_teacher_forcing_past_the_cache_capacity():
    decoder = Decoder(16, 2, 2, 32, cross_attention=False).eval()
    x = torch.randn(2, 40, 16)  # the self-attention cache grows from 16 positions, twice
    cache = decoder.init_cache()
    steps = [decoder.step(x[:, :7], cache)] + [decoder.step(x[:, t : t + 1], cache) for t in range(7, 40)]
    torch.testing.assert_close(torch.cat(steps, 1), decoder(x), atol=1e-5, rtol=1e-5)


def test_has_no_cross_attention_parameters():
    layer = DecoderLayer(16, 2, 32, cross_attention=False)
    assert layer.cross_attn is None and layer.norm3 is None
    names = {name.split(".")[0] for name, _ in layer.named_parameters()}
    assert names == {"self_attn", "feed_forward", "norm1", "norm2"}
    with_cross = {name.split(".")[0] for name, _ in DecoderLayer(16, 2, 32).named_parameters()}
    assert with_cross == names | {"cross_attn", "norm3"}


def test_init_kwargs_rebuild_a_decoder_only_stack():
    decoder = Decoder(16, 2, 2, 32, norm_first=True, cross_attention=False)
    assert decoder.init_kwargs["cross_attention"] is False
    rebuilt = Decoder(**decoder.init_kwargs)
    rebuilt.load_state_dict(decoder.state_dict())  # strict: the same parameters
    x = torch.randn(1, 4, 16)
    torch.testing.assert_close(rebuilt.eval()(x), decoder.eval()(x))


def test_gradients_reach_every_parameter():
    decoder = Decoder(16, 2, 2, 32, dropout=0.1, cross_attention=False)
    decoder(torch.randn(2, 5, 16), pad_mask=_pad_mask([5, 3], 5)).sum().backward()
    for name, p in decoder.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_memory_where_none_belongs_and_none_where_one_is_needed_are_named():
    decoder_only = Decoder(16, 2, 1, 32, cross_attention=False)
    with pytest.raises(ValueError, match="no cross-attention"):
        decoder_only(torch.randn(2, 4, 16), torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match="no cross-attention"):
        decoder_only.init_cache(torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match="attends over a memory"):
        Decoder(16, 2, 1, 32)(torch.randn(2, 4, 16))
    with pytest.raises(ValueError, match="attends over a memory"):
        Decoder(16, 2, 1, 32).init_cache()
