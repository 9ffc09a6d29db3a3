import itertools

import pytest
import torch

from tformer.core import beam_search, beam_search_nbest, decoder_only_decoding, greedy_search, length_penalty
from tests.core.toys import BOS, EOS, VOCAB, language_model_and_prompts, translator_and_sources


def _search(model, fn, memory, mask, max_len, **kwargs):
    return fn(model.decoding(memory, mask, max_len), **kwargs)


@pytest.fixture
def toy():
    return translator_and_sources()


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
    assert _search(model, beam_search, memory, mask, limits, beam_size=1) == _search(model, greedy_search, memory, mask, limits)


@torch.no_grad()
def test_greedy_picks_the_argmax_at_every_step(toy):
    model, memory, mask = toy
    out = _search(model, greedy_search, memory, mask, 6)
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
    found = _search(model, beam_search, memory, mask, max_len, beam_size=64, alpha=alpha)
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
    n_best = _search(model, beam_search_nbest, memory, mask, max_len, beam_size=3, alpha=alpha)
    assert [h[0].ids for h in n_best] == _search(model, beam_search, memory, mask, max_len, beam_size=3, alpha=alpha)
    for b, hypotheses in enumerate(n_best):
        assert len(hypotheses) == 3
        assert [h.score for h in hypotheses] == sorted((h.score for h in hypotheses), reverse=True)
        for h in hypotheses:
            ids = h.ids + ([EOS] if len(h.ids) < max_len else [])  # cut by the limit: no EOS scored
            assert h.log_prob == pytest.approx(model.log_prob(memory[b : b + 1], mask[b : b + 1], ids), abs=1e-4)
            assert h.score == pytest.approx(h.log_prob / length_penalty(len(ids), alpha), abs=1e-4)


@torch.no_grad()
@pytest.mark.parametrize("norm_first", [False, True])
def test_language_model_greedy_continues_the_prompt_with_the_argmax(norm_first):
    model, prompts = language_model_and_prompts(norm_first)
    out = greedy_search(model.decoding(prompts, torch.tensor([6, 2, 9])))
    for b, ids in enumerate(out):
        prefix = prompts[b].tolist()
        for token in ids + ([EOS] if len(ids) < [6, 2, 9][b] else []):
            h = model.decoder(model.embed_step(torch.tensor([prefix]), 0))
            assert int(model.project(h)[0, -1].argmax()) == token
            prefix.append(token)


@torch.no_grad()
def test_language_model_wide_beam_finds_the_exhaustive_best():
    model, prompts = language_model_and_prompts()
    max_len, alpha = 3, 0.6
    found = beam_search(model.decoding(prompts, max_len), beam_size=64, alpha=alpha)
    words = [t for t in range(VOCAB) if t != EOS]
    for b in range(len(prompts)):
        candidates = [list(p) + [EOS] for n in range(max_len) for p in itertools.product(words, repeat=n)]
        candidates += [list(p) for p in itertools.product(words, repeat=max_len)]
        score = lambda ids: model.log_prob(prompts[b].tolist(), ids) / length_penalty(len(ids), alpha)
        assert found[b] == [t for t in max(candidates, key=score) if t != EOS]


@torch.no_grad()
def test_language_model_nbest_scores_are_log_probs_given_the_prompt():
    model, prompts = language_model_and_prompts(norm_first=True)
    max_len, alpha = 5, 0.6
    n_best = beam_search_nbest(model.decoding(prompts, max_len), beam_size=3, alpha=alpha)
    for b, hypotheses in enumerate(n_best):
        assert len(hypotheses) == 3
        for h in hypotheses:
            ids = h.ids + ([EOS] if len(h.ids) < max_len else [])
            assert h.log_prob == pytest.approx(model.log_prob(prompts[b].tolist(), ids), abs=1e-4)
            assert h.score == pytest.approx(h.log_prob / length_penalty(len(ids), alpha), abs=1e-4)


def test_decoding_builders_name_bad_input(toy):
    model, memory, mask = toy
    lm, prompts = language_model_and_prompts()
    with pytest.raises(ValueError, match="cross_attention=False"):
        decoder_only_decoding(model.core.decoder, prompts, model.embed_step, model.project, EOS, 5)
    with pytest.raises(ValueError, match=r"max_len must be an int or a \(3,\) tensor"):
        model.decoding(memory, mask, torch.tensor([4, 4]))
    with pytest.raises(ValueError, match="prefix must be"):
        lm.decoding(prompts[:, :0], 5)


def test_length_penalty_is_gnmts():
    assert length_penalty(1, 0.6) == pytest.approx(1.0)
    assert length_penalty(10, 0.6) == pytest.approx((15 / 6) ** 0.6)
    assert length_penalty(7, 0.0) == 1.0
