import itertools

import pytest
import torch
from torch import nn

from tformer.core import EncoderDecoder, SinusoidalPositions, beam_search, beam_search_nbest, greedy_search, length_penalty

BOS, EOS, VOCAB, D = 1, 2, 5, 16


class _Toy(nn.Module):
    """An untrained translation model small enough to enumerate every output."""

    def __init__(self):
        super().__init__()
        self.core = EncoderDecoder(D, 2, 1, 2, 32).eval()
        self.embedding = nn.Embedding(VOCAB, D)
        self.positions = SinusoidalPositions(D)
        self.out = nn.Linear(D, VOCAB)

    def embed_step(self, ids, offset):
        return self.positions(self.embedding(ids), offset)

    def project(self, h):
        return self.out(h)

    def log_prob(self, memory, mask, ids):
        """Teacher-forced log-probability of ``ids`` (ending in EOS or not) for one source."""
        tokens = torch.tensor([[BOS] + ids[:-1]])
        h = self.core.decoder(self.embed_step(tokens, 0), memory, mask)
        logp = self.project(h).log_softmax(-1)[0]
        return sum(float(logp[t, i]) for t, i in enumerate(ids))

    def search(self, fn, memory, mask, max_len, **kwargs):
        return fn(self.core.decoder, memory, mask, self.embed_step, self.project, BOS, EOS, max_len, **kwargs)


@pytest.fixture
def toy():
    torch.manual_seed(3)
    model = _Toy()
    src = torch.randn(3, 6, D)
    mask = torch.arange(6)[None, :] >= torch.tensor([6, 4, 2])[:, None]
    return model, model.core.encode(src, mask), mask


@torch.no_grad()
def test_cached_decoding_equals_teacher_forcing(toy):
    model, memory, mask = toy
    tokens = torch.randint(3, VOCAB, (3, 9))
    full = model.core.decoder(model.embed_step(tokens, 0), memory, mask)
    cache = model.core.decoder.init_cache(memory, mask)
    steps = [model.core.decoder.step(model.embed_step(tokens[:, t : t + 1], t), cache) for t in range(9)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_beam_of_one_is_greedy(toy):
    model, memory, mask = toy
    limits = torch.tensor([7, 3, 10])
    assert model.search(beam_search, memory, mask, limits, beam_size=1) == model.search(greedy_search, memory, mask, limits)


@torch.no_grad()
def test_greedy_picks_the_argmax_at_every_step(toy):
    model, memory, mask = toy
    out = model.search(greedy_search, memory, mask, 6)
    for b, ids in enumerate(out):
        prefix = [BOS]
        for token in ids + ([EOS] if len(ids) < 6 else []):
            h = model.core.decoder(model.embed_step(torch.tensor([prefix]), 0), memory[b : b + 1], mask[b : b + 1])
            assert int(model.project(h)[0, -1].argmax()) == token
            prefix.append(token)


@torch.no_grad()
def test_wide_beam_finds_the_exhaustive_best(toy):
    model, memory, mask = toy
    max_len, alpha = 3, 0.6
    found = model.search(beam_search, memory, mask, max_len, beam_size=64, alpha=alpha)
    words = [t for t in range(VOCAB) if t != EOS]
    for b in range(3):
        candidates = [list(p) + [EOS] for n in range(max_len) for p in itertools.product(words, repeat=n)]
        candidates += [list(p) for p in itertools.product(words, repeat=max_len)]  # cut by the limit
        score = lambda ids: model.log_prob(memory[b : b + 1], mask[b : b + 1], ids) / length_penalty(len(ids), alpha)
        best = max(candidates, key=score)
        assert found[b] == [t for t in best if t != EOS]


@torch.no_grad()
def test_nbest_scores_are_teacher_forced_log_probs(toy):
    model, memory, mask = toy
    max_len, alpha = 5, 0.6
    n_best = model.search(beam_search_nbest, memory, mask, max_len, beam_size=3, alpha=alpha)
    assert [h[0].ids for h in n_best] == model.search(beam_search, memory, mask, max_len, beam_size=3, alpha=alpha)
    for b, hypotheses in enumerate(n_best):
        assert len(hypotheses) == 3
        assert [h.score for h in hypotheses] == sorted((h.score for h in hypotheses), reverse=True)
        for h in hypotheses:
            ids = h.ids + ([EOS] if len(h.ids) < max_len else [])  # cut by the limit: no EOS scored
            assert h.log_prob == pytest.approx(model.log_prob(memory[b : b + 1], mask[b : b + 1], ids), abs=1e-4)
            assert h.score == pytest.approx(h.log_prob / length_penalty(len(ids), alpha), abs=1e-4)


def test_length_penalty_is_gnmts():
    assert length_penalty(1, 0.6) == pytest.approx(1.0)
    assert length_penalty(10, 0.6) == pytest.approx((15 / 6) ** 0.6)
    assert length_penalty(7, 0.0) == 1.0
