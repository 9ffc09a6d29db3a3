"""Sampling (temperature, top-k, top-p) against greedy search and known distributions."""

import pytest
import torch

from tformer.core import greedy_search, sample, sample_token
from tests.core.toys import language_model_and_prompts, translator_and_sources

LIMITS = torch.tensor([7, 3, 10])


@pytest.fixture(params=["encoder_decoder", "decoder_only"])
def decoding(request):
    if request.param == "encoder_decoder":
        model, memory, mask = translator_and_sources()
        return model.decoding(memory, mask, LIMITS)
    model, prompts = language_model_and_prompts()
    return model.decoding(prompts, LIMITS)


@pytest.mark.parametrize(
    "options",
    [dict(top_k=1), dict(top_p=1e-6), dict(temperature=0.0), dict(temperature=1e-4), dict(temperature=3.0, top_k=1)],
)
def test_degenerate_sampling_is_greedy(decoding, options):
    generator = torch.Generator().manual_seed(0)
    assert sample(decoding, generator=generator, **options) == greedy_search(decoding)


def test_a_seeded_generator_reproduces_and_seeds_differ(decoding):
    draw = lambda seed: sample(decoding, temperature=2.0, generator=torch.Generator().manual_seed(seed))
    assert draw(7) == draw(7)
    assert len({str(draw(seed)) for seed in range(5)}) > 1


def test_outputs_respect_the_length_limits(decoding):
    out = sample(decoding, temperature=5.0, generator=torch.Generator().manual_seed(1))
    assert all(len(ids) <= limit for ids, limit in zip(out, LIMITS.tolist()))


def _frequencies(logits, n=40000, **options):
    ids = sample_token(logits.expand(n, -1), generator=torch.Generator().manual_seed(0), **options)
    return torch.bincount(ids, minlength=logits.size(-1)).float() / n


PROBS = torch.tensor([[0.5, 0.3, 0.15, 0.05]])


def test_draws_follow_the_tempered_distribution():
    for temperature in (1.0, 2.0, 0.5):
        expected = PROBS ** (1 / temperature)
        expected = expected / expected.sum()
        found = _frequencies(PROBS.log(), temperature=temperature)
        torch.testing.assert_close(found, expected[0], atol=0.01, rtol=0)  # 4 standard errors


@pytest.mark.parametrize(
    "options, support",
    [
        (dict(top_k=2), [0, 1]),
        (dict(top_k=3), [0, 1, 2]),
        (dict(top_k=10), [0, 1, 2, 3]),
        (dict(top_p=0.4), [0]),  # the most likely id alone already reaches 0.4
        (dict(top_p=0.75), [0, 1]),  # 0.5 < 0.75 <= 0.5 + 0.3
        (dict(top_p=0.85), [0, 1, 2]),
        (dict(top_p=1.0), [0, 1, 2, 3]),
        (dict(top_k=2, top_p=0.9), [0, 1]),
    ],
)
def test_top_k_and_top_p_draw_renormalized_from_the_kept_ids(options, support):
    expected = torch.zeros(4)
    expected[support] = PROBS[0, support] / PROBS[0, support].sum()
    torch.testing.assert_close(_frequencies(PROBS.log(), **options), expected, atol=0.01, rtol=0)


def test_bad_sampling_options_are_named():
    logits = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_token(logits, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        sample_token(logits, top_k=0)
    with pytest.raises(ValueError, match=r"top_p must be within \(0, 1\]"):
        sample_token(logits, top_p=0.0)
