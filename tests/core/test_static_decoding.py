"""Static decoding caches (``static=True``): every step the same shapes, the same outputs as the
growing cache; and a compiled step (``compiled=True``) that traces whole and decodes alike."""

import pytest
import torch
from torch import nn

from tformer.core import (Decoder, EncoderDecoder, LearnedPositions, SinusoidalPositions, beam_search, decoder_only_decoding,
                          encoder_decoder_decoding, greedy_search, sample)
from tformer.core.attention import StaticKVCache

BOS, EOS, VOCAB, D = 1, 2, 11, 16


class _Text(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding, self.positions, self.out = nn.Embedding(VOCAB, D), SinusoidalPositions(D), nn.Linear(D, VOCAB)

    def embed_step(self, ids, offset):
        return self.positions(self.embedding(ids) * 4.0, offset)

    def project(self, hidden):
        return self.out(hidden)


def _translator():
    torch.manual_seed(0)
    core, text = EncoderDecoder(D, 2, 1, 2, 32).eval(), _Text()
    memory = core.encode(torch.randn(3, 7, D), torch.arange(7)[None, :] >= torch.tensor([7, 4, 2])[:, None])
    mask = torch.arange(7)[None, :] >= torch.tensor([7, 4, 2])[:, None]
    return core, text, memory, mask


def _translation(static=False, compiled=False, max_len=9):
    core, text, memory, mask = _translator()
    return encoder_decoder_decoding(core.decoder, memory, mask, text.embed_step, text.project, BOS, EOS, max_len,
                                    static=static, compiled=compiled)


def _continuation(static=False):
    torch.manual_seed(1)
    decoder, text = Decoder(D, 2, 2, 32, cross_attention=False).eval(), _Text()
    prefix = torch.cat([torch.full((3, 1), BOS), torch.randint(3, VOCAB, (3, 4))], 1)
    return decoder_only_decoding(decoder, prefix, text.embed_step, text.project, EOS, 8, static=static)


@pytest.mark.parametrize("positions", [SinusoidalPositions(D), LearnedPositions(D, 64)], ids=["sinusoidal", "learned"])
def test_a_position_held_on_the_device_adds_what_an_int_adds(positions):
    x = torch.randn(2, 3, D)
    torch.testing.assert_close(positions(x, torch.tensor(37)), positions(x, 37), rtol=0, atol=1e-6)


@torch.no_grad()
def test_static_steps_give_the_growing_caches_logits():
    core, text, memory, mask = _translator()
    tokens = torch.randint(3, VOCAB, (3, 9))
    logits = []
    for capacity in (None, 12):
        cache = core.decoder.init_cache(memory, mask, capacity)
        logits.append(torch.cat([core.decoder.step(text.embed_step(tokens[:, t:t + 1], cache.offset), cache)
                                 for t in range(9)], 1))
    torch.testing.assert_close(logits[1], logits[0], rtol=1e-5, atol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("search", [greedy_search, lambda d: beam_search(d, beam_size=3, alpha=0.6),
                                    lambda d: sample(d, generator=torch.Generator().manual_seed(5))],
                         ids=["greedy", "beam", "sampling"])
def test_static_caches_decode_what_growing_caches_decode(search):
    assert search(_translation(static=True)) == search(_translation())
    assert search(_continuation(static=True)) == search(_continuation())  # a 5-token prefix first, then steps


def test_a_static_cache_keeps_its_buffers_when_beams_are_reordered():
    cache = StaticKVCache(6, torch.tensor(0))
    k = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 2, 1, 4).contiguous()
    cache.append(k, k.clone())
    pointer = cache.k.data_ptr()
    cache.reorder(torch.tensor([2, 2, 0]))
    assert cache.k.data_ptr() == pointer  # a captured graph reads the same memory
    assert cache.k[:, 0, 0, 0].tolist() == [2.0, 2.0, 0.0] and cache.k.size(2) == 6
    assert cache.visible(1)[0, 0, 0].tolist() == [True, False, False, False, False, False]


@pytest.mark.slow  # compiling a decoding step takes about half a minute on one CPU thread
@torch.no_grad()
def test_a_compiled_step_traces_whole_and_decodes_alike():
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    eager = greedy_search(_translation())
    assert greedy_search(_translation(compiled=True)) == eager  # fullgraph: a graph break would raise
    graphs = counters["stats"]["unique_graphs"]
    assert greedy_search(_translation(compiled=True)) == eager
    assert counters["stats"]["unique_graphs"] == graphs  # a new batch of the same shapes reuses the graph
