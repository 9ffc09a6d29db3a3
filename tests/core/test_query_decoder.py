"""The decoder without a causal mask, every layer's output returned: DETR's decoder over object queries."""

import pytest
import torch
from torch import nn

from tformer.core import EncoderDecoder
from tformer.interop import from_torch_transformer


def _pad_mask(lengths, total):
    return torch.arange(total)[None, :] >= torch.tensor(lengths)[:, None]


def _pair(norm_first, d=32, heads=4, layers=3):
    torch.manual_seed(0)
    theirs = nn.Transformer(d, heads, 1, layers, 64, batch_first=True, norm_first=norm_first).eval()
    return theirs, from_torch_transformer(theirs).eval()


@pytest.mark.parametrize("norm_first", [False, True])
def test_non_causal_matches_torch_decoder_without_a_target_mask(norm_first):
    theirs, ours = _pair(norm_first)
    queries, memory = torch.randn(2, 7, 32), torch.randn(2, 9, 32)
    memory_pad, query_pad = _pad_mask([9, 5], 9), _pad_mask([7, 4], 7)
    with torch.no_grad():
        ref = theirs.decoder(queries, memory, tgt_key_padding_mask=query_pad, memory_key_padding_mask=memory_pad)
        out = ours.decoder(queries, memory, memory_pad, query_pad, causal=False)
    real = ~query_pad
    torch.testing.assert_close(out[real], ref[real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_every_layer_gives_each_layers_output_through_the_final_norm(norm_first):
    theirs, ours = _pair(norm_first)
    queries, memory = torch.randn(2, 5, 32), torch.randn(2, 8, 32)
    with torch.no_grad():
        states = ours.decoder(queries, memory, causal=False, every_layer=True)
        last = ours.decoder(queries, memory, causal=False)
        h, expected = queries, []
        for layer in theirs.decoder.layers:
            h = layer(h, memory)
            expected.append(theirs.decoder.norm(h))
    assert states.shape == (3, 2, 5, 32)
    torch.testing.assert_close(states, torch.stack(expected), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(states[-1], last, atol=0, rtol=0)


def test_causal_by_default_and_unchanged():
    theirs, ours = _pair(False)
    target, memory = torch.randn(2, 6, 32), torch.randn(2, 4, 32)
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    with torch.no_grad():
        default, explicit = ours.decoder(target, memory), ours.decoder(target, memory, causal=True)
        ref = theirs.decoder(target, memory, tgt_mask=mask, tgt_is_causal=True)
        open_ = ours.decoder(target, memory, causal=False)
    torch.testing.assert_close(default, explicit, atol=0, rtol=0)
    torch.testing.assert_close(default, ref, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(open_[:, 0], default[:, 0], atol=1e-3)  # the first position now sees the rest
    _, one_layer = _pair(False, layers=1)
    with torch.no_grad():  # one layer: the last position saw every position anyway
        torch.testing.assert_close(one_layer.decoder(target, memory, causal=False)[:, -1],
                                   one_layer.decoder(target, memory)[:, -1], atol=1e-5, rtol=1e-5)


def test_non_causal_queries_are_a_set_and_see_each_other():
    core = EncoderDecoder(16, 2, 1, 2, 32, dropout=0.0).eval()
    queries, memory = torch.randn(1, 6, 16), torch.randn(1, 5, 16)
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        out, weights = core.decoder(queries, memory, causal=False, need_weights=True)
        shuffled = core.decoder(queries[:, order], memory, causal=False)
    torch.testing.assert_close(shuffled, out[:, order], atol=1e-5, rtol=1e-5)  # permuting queries permutes outputs
    self_weights = weights[0][0]  # (B, H, T, T)
    assert self_weights.triu(1).sum() > 0.1
    torch.testing.assert_close(self_weights.sum(-1), torch.ones(1, 2, 6))
