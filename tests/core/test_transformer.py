import pytest
import torch
from torch import nn

from tformer.core import Encoder, EncoderDecoder
from tformer.interop import from_torch_transformer


def _pad_mask(lengths, total):
    return torch.arange(total)[None, :] >= torch.tensor(lengths)[:, None]


SHAPES = [  # d_model, heads, enc layers, dec layers, d_ff, activation
    (32, 4, 2, 2, 64, "relu"),
    (24, 3, 1, 3, 40, "gelu"),
    (64, 8, 3, 1, 128, "relu"),
]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("batch_first", [True, False])
def test_imported_torch_transformer_gives_the_same_outputs(shape, norm_first, batch_first):
    d, heads, n_enc, n_dec, d_ff, activation = shape
    theirs = nn.Transformer(d, heads, n_enc, n_dec, d_ff, activation=activation, norm_first=norm_first, batch_first=batch_first).eval()
    ours = from_torch_transformer(theirs).eval()
    src, tgt = torch.randn(3, 11, d), torch.randn(3, 7, d)
    src_pad, tgt_pad = _pad_mask([11, 8, 3], 11), _pad_mask([7, 7, 4], 7)
    causal = nn.Transformer.generate_square_subsequent_mask(7).bool()
    args = (src, tgt) if batch_first else (src.transpose(0, 1), tgt.transpose(0, 1))
    ref = theirs(*args, tgt_mask=causal, src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
    ref = ref if batch_first else ref.transpose(0, 1)
    out = ours(src, tgt, src_pad, tgt_pad)
    real = ~tgt_pad
    torch.testing.assert_close(out[real], ref[real], atol=1e-5, rtol=1e-5)


def test_target_padding_mask_is_optional_for_right_padded_targets():
    core = EncoderDecoder(16, 2, 1, 2, 32).eval()
    src, tgt = torch.randn(2, 5, 16), torch.randn(2, 6, 16)
    tgt_pad = _pad_mask([6, 3], 6)
    with_mask, without = core(src, tgt, tgt_pad_mask=tgt_pad), core(src, tgt)
    torch.testing.assert_close(with_mask[~tgt_pad], without[~tgt_pad], atol=1e-6, rtol=1e-6)


def test_padding_does_not_change_real_positions():
    encoder = Encoder(16, 4, 2, 32).eval()
    x = torch.randn(1, 5, 16)
    padded = torch.cat([x, torch.randn(1, 3, 16)], 1)
    out = encoder(padded, _pad_mask([5], 8))
    torch.testing.assert_close(out[:, :5], encoder(x), atol=1e-5, rtol=1e-5)


def test_encoder_returns_attention_weights_per_layer():
    encoder = Encoder(16, 4, 3, 32).eval()
    out, weights = encoder(torch.randn(2, 6, 16), need_weights=True)
    assert out.shape == (2, 6, 16) and len(weights) == 3
    assert weights[0].shape == (2, 4, 6, 6)


def test_gradients_reach_every_parameter():
    core = EncoderDecoder(16, 2, 2, 2, 32, dropout=0.1)
    out = core(torch.randn(2, 5, 16), torch.randn(2, 4, 16), _pad_mask([5, 2], 5))
    out.sum().backward()
    for name, p in core.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_bad_input_names_the_culprit():
    core = EncoderDecoder(16, 2, 1, 1, 32)
    with pytest.raises(ValueError, match=r"encoder input must be \(batch, length, 16\)"):
        core(torch.randn(2, 5, 8), torch.randn(2, 4, 16))
    with pytest.raises(ValueError, match=r"encoder input padding mask must be bool of shape \(2, 5\)"):
        core(torch.randn(2, 5, 16), torch.randn(2, 4, 16), src_pad_mask=torch.zeros(2, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"memory must be"):
        core.decoder(torch.randn(2, 4, 16), torch.randn(3, 5, 16))
    with pytest.raises(ValueError, match="divisible"):
        EncoderDecoder(30, 4, 1, 1, 32)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        EncoderDecoder(16, 2, 1, 1, 32, activation="swish")


@torch.no_grad()
def test_cached_steps_take_a_memory_mask_per_layer_and_return_the_cross_attention():
    torch.manual_seed(0)
    model = EncoderDecoder(16, 2, 1, 2, 32, dropout=0.0).eval()
    memory, pad = torch.randn(2, 5, 16), torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    x = torch.randn(2, 1, 16)
    plain = model.decoder.step(x, model.decoder.init_cache(memory, pad))
    same_as_padding = [~pad[:, None, None, :], None]  # layer 0: the padding mask written out; layer 1: kept
    out, weights = model.decoder.step(x, model.decoder.init_cache(memory, pad), need_weights=True,
                                      memory_attn_masks=same_as_padding)
    torch.testing.assert_close(out, plain)
    assert [w.shape for w in weights] == [(2, 2, 1, 5)] * 2 and weights[1][1, :, 0, 3:].abs().sum() == 0
    only_first = torch.zeros(2, 2, 1, 5, dtype=torch.bool)
    only_first[..., 0] = True  # every head of layer 1 sees memory position 0 alone
    _, weights = model.decoder.step(x, model.decoder.init_cache(memory, pad), need_weights=True,
                                    memory_attn_masks=[None, only_first])
    torch.testing.assert_close(weights[1][..., 0], torch.ones(2, 2, 1))
    with pytest.raises(ValueError, match="one entry per decoder layer \\(2\\), got 1"):
        model.decoder.step(x, model.decoder.init_cache(memory, pad), memory_attn_masks=[None])
