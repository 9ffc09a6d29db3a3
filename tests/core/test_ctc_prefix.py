"""CTC prefix scores against torch's CTC loss and against the prefix identity they must obey."""

import pytest
import torch
import torch.nn.functional as F

from tformer.core.ctc_prefix import CtcPrefixScorer

BLANK, EOS, V, BEAM = 0, 4, 5, 3


def _log_probs(batch=2, frames=7, eos_emittable=True, seed=0):
    torch.manual_seed(seed)
    logits = torch.randn(batch, frames, V)
    if not eos_emittable:
        logits[..., EOS] = float("-inf")
    return logits.log_softmax(-1)


def _grow(scorer, steps):
    """Score every label, then extend hypothesis n by steps[k][n]; yields the scores before each extension."""
    candidates = torch.arange(V).repeat(scorer.prefix_score.numel(), 1)
    for labels in steps:
        yield scorer.score(candidates)
        scorer.advance(torch.arange(len(labels)), torch.tensor(labels))
    yield scorer.score(candidates)


def test_the_eos_score_is_the_ctc_likelihood_of_the_hypothesis():
    log_probs, lengths = _log_probs(), torch.tensor([7, 5])  # the second input padded: 5 frames
    scorer = CtcPrefixScorer(log_probs, lengths, BLANK, EOS, BEAM)
    steps = [[1, 2, 3, 1, 2, 3], [1, 2, 1, 3, 3, 2], [2, 1, 1, 3, 3, 3]]  # with repeats: "1 1", "3 3 3"
    hypotheses = [[] for _ in range(2 * BEAM)]
    for k, scores in enumerate(_grow(scorer, steps)):
        for n, ids in enumerate(hypotheses):
            b = n // BEAM
            expected = -F.ctc_loss(log_probs[b : b + 1].transpose(0, 1), torch.tensor([ids or [1]]), lengths[b : b + 1],
                                   torch.tensor([len(ids)]), blank=BLANK, reduction="sum")
            if not ids:  # the empty hypothesis: every frame blank
                expected = log_probs[b, : lengths[b], BLANK].sum()
            assert float(scorer.prefix_score[n] + scores[n, EOS]) == pytest.approx(float(expected), abs=1e-4)
        if k < len(steps):
            hypotheses = [ids + [steps[k][n]] for n, ids in enumerate(hypotheses)]


def test_a_prefix_s_probability_is_its_own_plus_its_extensions():
    # p(output starts with g) = p(output is g) + sum over labels c of p(output starts with g·c),
    # where the end id is no CTC label
    scorer = CtcPrefixScorer(_log_probs(eos_emittable=False), torch.tensor([7, 5]), BLANK, EOS, BEAM)
    for scores in _grow(scorer, [[1, 2, 3, 1, 2, 3], [1, 1, 2, 3, 3, 1]]):
        assert torch.logsumexp(scores[:, 1:], dim=1).tolist() == pytest.approx([0.0] * 6, abs=1e-5)
        assert scores[:, BLANK].eq(float("-inf")).all()


def test_a_hypothesis_longer_than_its_frames_scores_minus_infinity():
    scorer = CtcPrefixScorer(_log_probs(frames=2, batch=1), torch.tensor([2]), BLANK, EOS, 1)
    scores = list(_grow(scorer, [[1], [1]]))  # "1 1" needs three frames: 1, blank, 1
    assert scores[-1][0, EOS] == float("-inf") and scores[-1][0, 1:].eq(float("-inf")).all()


def test_scoring_some_candidates_gives_their_scores_among_all():
    log_probs, lengths = _log_probs(), torch.tensor([7, 5])
    everything, some = (CtcPrefixScorer(log_probs, lengths, BLANK, EOS, BEAM) for _ in range(2))
    labels = torch.tensor([1, 2, 3, 3, 2, 1])
    for scorer in (everything, some):
        scorer.score(torch.arange(V).repeat(6, 1))
        scorer.advance(torch.arange(6), labels)
    full = everything.score(torch.arange(V).repeat(6, 1))
    chosen = torch.tensor([[3, 4], [1, 2], [4, 3], [3, 1], [2, 4], [1, 3]])
    assert torch.allclose(some.score(chosen), full.gather(1, chosen))
