import pytest
import torch
from torch import nn

from tformer.core import KVCache, MultiHeadAttention


def _copy_from_torch(theirs: nn.MultiheadAttention, cross: bool = False) -> MultiHeadAttention:
    ours = MultiHeadAttention(theirs.embed_dim, theirs.num_heads, cross=cross).eval()
    d = theirs.embed_dim
    with torch.no_grad():
        if cross:
            ours.q_proj.weight.copy_(theirs.in_proj_weight[:d]); ours.q_proj.bias.copy_(theirs.in_proj_bias[:d])
            ours.kv_proj.weight.copy_(theirs.in_proj_weight[d:]); ours.kv_proj.bias.copy_(theirs.in_proj_bias[d:])
        else:
            ours.qkv.weight.copy_(theirs.in_proj_weight); ours.qkv.bias.copy_(theirs.in_proj_bias)
        ours.out_proj.load_state_dict(theirs.out_proj.state_dict())
    return ours


def _pad_mask(lengths, total):
    return torch.arange(total)[None, :] >= torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_matches_torch(causal):
    theirs = nn.MultiheadAttention(48, 6, batch_first=True).eval()
    ours = _copy_from_torch(theirs)
    x = torch.randn(3, 9, 48)
    pad = _pad_mask([9, 6, 2], 9)
    causal_mask = nn.Transformer.generate_square_subsequent_mask(9).bool() if causal else None
    ref, ref_w = theirs(x, x, x, key_padding_mask=pad, attn_mask=causal_mask, average_attn_weights=False)
    out, weights = ours(x, key_pad_mask=pad, causal=causal, need_weights=True)
    fast, none = ours(x, key_pad_mask=pad, causal=causal)
    real = ~pad
    assert none is None
    torch.testing.assert_close(out[real], ref[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast[real], ref[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.transpose(1, 2)[real], ref_w.transpose(1, 2)[real], atol=1e-5, rtol=1e-5)


def test_cross_attention_matches_torch():
    theirs = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    ours = _copy_from_torch(theirs, cross=True)
    q, memory = torch.randn(2, 5, 32), torch.randn(2, 11, 32)
    pad = _pad_mask([11, 4], 11)
    ref, _ = theirs(q, memory, memory, key_padding_mask=pad)
    out, _ = ours(q, memory, key_pad_mask=pad)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_cached_steps_equal_causal_attention():
    attention = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 40, 16)  # crosses the cache's first capacity (16) twice
    full, _ = attention(x, causal=True)
    cache = KVCache()
    steps = [attention(x[:, t : t + 1], cache=cache, causal=True)[0] for t in range(40)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_all_keys_padded_gives_no_nan():
    attention = MultiHeadAttention(8, 2).eval()
    x = torch.randn(2, 4, 8)
    pad = torch.tensor([[True] * 4, [False, False, True, True]])
    out, weights = attention(x, key_pad_mask=pad, need_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert torch.isfinite(attention(x, key_pad_mask=pad, causal=True)[0]).all()


def test_bad_shapes_are_named_before_computing():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(4\)"):
        MultiHeadAttention(10, 4)
    attention = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"query must be \(batch, length, 8\)"):
        attention(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"key padding mask must be bool of shape \(2, 3\)"):
        attention(torch.randn(2, 3, 8), key_pad_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="key padding mask must be bool"):
        attention(torch.randn(2, 3, 8), key_pad_mask=torch.zeros(2, 3))
    cross = MultiHeadAttention(8, 2, cross=True)
    with pytest.raises(ValueError, match="needs a memory"):
        cross(torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match=r"memory must be \(2, length, 8\)"):
        cross(torch.randn(2, 3, 8), torch.randn(3, 5, 8))


@pytest.mark.parametrize("need_weights", [False, True])  # SDPA's path and the explicit one
def test_cached_chunks_equal_causal_attention(need_weights):
    # A chunk of several queries after cached keys: query i of the chunk sees the cache and the chunk up to i.
    attention = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 11, 16)
    full, _ = attention(x, causal=True)
    cache, out, start = KVCache(), [], 0
    for size in (4, 1, 3, 3):
        out.append(attention(x[:, start : start + size], cache=cache, causal=True, need_weights=need_weights)[0])
        start += size
    torch.testing.assert_close(torch.cat(out, 1), full, atol=1e-5, rtol=1e-5)


def test_memory_keys_values_are_what_cross_attention_attends_over():
    attention = MultiHeadAttention(16, 4, cross=True).eval()
    q, memory = torch.randn(2, 3, 16), torch.randn(2, 7, 16)
    k, v = attention.memory_keys_values(memory)
    assert k.shape == v.shape == (2, 4, 7, 4)
    cache = KVCache()
    cache.set(k, v)
    torch.testing.assert_close(attention(q, cache=cache)[0], attention(q, memory)[0])
    with pytest.raises(ValueError, match="cross-attention"):
        MultiHeadAttention(16, 4).memory_keys_values(memory)


@pytest.mark.parametrize("need_weights", [True, False])
def test_masks_are_built_on_the_queries_device(need_weights):
    # A causal mask with no padding, built for the explicit path that returns weights (TTS training),
    # once landed on the CPU and broke every CUDA run; the meta device stands in for a GPU here.
    attention = MultiHeadAttention(8, 2).to("meta").eval()
    out, weights = attention(torch.empty(2, 5, 8, device="meta"), causal=True, need_weights=need_weights)
    assert out.device.type == "meta" and out.shape == (2, 5, 8)
    assert (weights is not None) == need_weights
