"""Greedy, sampling and beam search over a ``Decoding`` (batched; length penalty as in GNMT)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from .ctc_prefix import CtcPrefixScorer
from .decoding import Decoding
from .sampling import argmax_token, sample_token

__all__ = ["greedy_search", "sample", "beam_search", "beam_search_nbest", "Hypothesis", "length_penalty"]


class Hypothesis(NamedTuple):
    """A finished beam: ``score`` = ``log_prob`` / length penalty; ``ids`` without the prefix and EOS."""

    score: float
    log_prob: float
    ids: list[int]


def length_penalty(length: Tensor | int, alpha: float) -> Tensor | float:
    """GNMT (Wu et al. 2016): lp(Y) = ((5 + |Y|) / 6) ** alpha."""
    return ((5 + length) / 6) ** alpha


@torch.no_grad()
def greedy_search(decoding: Decoding) -> list[list[int]]:
    """Pick the most likely token at each step until EOS or ``max_len`` tokens (EOS counted).

    Returns:
        per row, the generated ids without the prefix and EOS.
    """
    return _one_per_row(decoding, argmax_token)


@torch.no_grad()
def sample(
    decoding: Decoding,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Draw each token from the model's distribution until EOS or ``max_len`` tokens (EOS counted).

    Args: as for ``sampling.sample_token``; temperature 0, ``top_k=1`` or a tiny ``top_p`` is greedy.

    Returns:
        per row, the generated ids without the prefix and EOS.
    """
    return _one_per_row(decoding, lambda logits: sample_token(logits, temperature, top_k, top_p, generator))


def _one_per_row(decoding: Decoding, pick: Callable[[Tensor], Tensor]) -> list[list[int]]:
    # pick: (B, V) logits -> (B,) ids
    prefix, eos_id = decoding.prefix, decoding.eos_id
    limits = decoding.max_len.to(prefix.device)
    cache = decoding.new_cache(1)
    done = torch.zeros(prefix.size(0), dtype=torch.bool, device=prefix.device)
    token, steps = prefix, []  # the first step feeds the whole prefix
    for t in range(int(limits.max()) if limits.numel() else 0):
        token = pick(decoding.step(token, cache)).unsqueeze(1)  # (B, 1)
        steps.append(token.squeeze(1).masked_fill(done, eos_id))
        done |= (token.squeeze(1) == eos_id) | (t + 1 >= limits)
        if bool(done.all()):
            break
    if not steps:
        return [[] for _ in range(prefix.size(0))]
    return [_until_eos(row, eos_id) for row in torch.stack(steps, 1).tolist()]


def _until_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


@torch.no_grad()
def beam_search(decoding: Decoding, beam_size: int = 4, alpha: float = 0.6, ctc: CtcPrefixScorer | None = None,
                ctc_weight: float = 0.0, pre_beam: int | None = None) -> list[list[int]]:
    """Keep the ``beam_size`` best continuations per row; finished hypotheses are ranked by
    log-probability / length_penalty. A row stops once it has ``beam_size`` finished
    hypotheses or reaches its ``max_len``; then its live beams count as finished.

    Args:
        ctc, ctc_weight, pre_beam: joint CTC/attention scoring, as for ``beam_search_nbest``.
    Returns:
        per row, the best hypothesis's ids without the prefix and EOS.
    """
    n_best = beam_search_nbest(decoding, beam_size, alpha, ctc, ctc_weight, pre_beam)
    return [hypotheses[0].ids if hypotheses else [] for hypotheses in n_best]


@torch.no_grad()
def beam_search_nbest(decoding: Decoding, beam_size: int = 4, alpha: float = 0.6, ctc: CtcPrefixScorer | None = None,
                      ctc_weight: float = 0.0, pre_beam: int | None = None) -> list[list[Hypothesis]]:
    """``beam_search``'s finished hypotheses (up to ``beam_size`` per row), best first, for
    rescoring with another model (e.g. the CTC-rescored beam of ``tformer.tasks.generators``).

    Args:
        ctc: CTC prefix scores of the same hypotheses (built for ``beam_size``): each step then
            scores ``(1 - ctc_weight) · log p_decoder + ctc_weight · log p_CTC-prefix`` (joint
            CTC/attention decoding), and the hypotheses' ``log_prob`` is that joint score.
        pre_beam: with ``ctc``, the decoder's best ``pre_beam`` tokens (and EOS) per hypothesis
            are scored by CTC, the rest dropped; ``None`` scores the whole vocabulary.
    """
    prefix, eos_id, k = decoding.prefix, decoding.eos_id, beam_size
    batch, start, device = prefix.size(0), prefix.size(1), prefix.device
    limits = decoding.max_len.to(device)
    cache = decoding.new_cache(k)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep one
    tokens = newest = prefix.repeat_interleave(k, dim=0)  # (B*K, P); then one more column per step
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = torch.zeros(batch, dtype=torch.bool)
    base = (torch.arange(batch, device=device) * k).unsqueeze(1)  # (B, 1)
    for t in range(int(limits.max()) if batch else 0):
        logp = decoding.step(newest, cache).float().log_softmax(-1)  # (B*K, V)
        if ctc is not None:
            logp = _joint(logp, ctc, ctc_weight, pre_beam, eos_id)
        vocab = logp.size(-1)
        candidates = (scores.unsqueeze(2) + logp.view(batch, k, vocab)).view(batch, -1)  # (B, K*V)
        top_scores, top_index = candidates.topk(2 * k, dim=1)  # (B, 2K)
        is_eos = (top_index % vocab) == eos_id
        _collect_finished(finished, done, top_scores, top_index, is_eos, tokens[:, start:], k, vocab, t, alpha)
        alive_scores, pick = top_scores.masked_fill(is_eos, float("-inf")).topk(k, dim=1)  # (B, K)
        alive_index = top_index.gather(1, pick)
        rows = (base + alive_index // vocab).view(-1)  # (B*K,) beam each survivor extends
        newest = (alive_index % vocab).view(-1, 1)  # (B*K, 1)
        tokens = torch.cat([tokens.index_select(0, rows), newest], dim=1)
        cache.reorder(rows)
        if ctc is not None:
            ctc.advance(rows, newest.view(-1))
        at_limit = (t + 1 >= limits).cpu() & ~done
        _finish_at_limit(finished, at_limit, alive_scores, tokens[:, start:], k, alpha)
        done |= torch.tensor([len(f) >= k for f in finished]) | at_limit
        if bool(done.all()):
            break
        scores = alive_scores.masked_fill(done.to(device).unsqueeze(1), float("-inf"))
    return [sorted(f, key=lambda h: -h.score) for f in finished]


def _joint(logp: Tensor, ctc: CtcPrefixScorer, weight: float, pre_beam: int | None, eos_id: int) -> Tensor:
    # (N, V) decoder log-probabilities -> joint scores, -inf outside the candidates CTC scored.
    vocab = logp.size(-1)
    if pre_beam is None or pre_beam >= vocab:
        candidates = torch.arange(vocab, device=logp.device).expand(logp.size(0), -1)
    else:  # EOS always among them: CTC decides whether the input is spent
        eos = torch.tensor([eos_id], device=logp.device)
        candidates = logp.index_fill(1, eos, float("inf")).topk(pre_beam + 1, dim=1).indices
    joint = weight * ctc.score(candidates)
    if weight < 1:  # at 1 the decoder adds nothing (and 0 · -inf would be NaN)
        joint = joint + (1 - weight) * logp.gather(1, candidates)
    return torch.full_like(logp, float("-inf")).scatter(1, candidates, joint)


def _collect_finished(finished, done, top_scores, top_index, is_eos, generated, k, vocab, t, alpha) -> None:
    # An EOS among a row's top K candidates ends that hypothesis (as in fairseq).
    for b, slot in (is_eos[:, :k]).nonzero().tolist():
        if done[b] or len(finished[b]) >= k or top_scores[b, slot] == float("-inf"):
            continue
        beam = b * k + int(top_index[b, slot]) // vocab
        log_prob = float(top_scores[b, slot])
        finished[b].append(Hypothesis(log_prob / length_penalty(t + 1, alpha), log_prob, generated[beam].tolist()))


def _finish_at_limit(finished, at_limit, alive_scores, generated, k, alpha) -> None:
    # Rows stopped by their length limit keep their live beams as hypotheses.
    for b in at_limit.nonzero().flatten().tolist():
        if len(finished[b]) >= k:
            continue
        length = generated.size(1)
        for j in range(k):
            if len(finished[b]) < k and alive_scores[b, j] > float("-inf"):
                log_prob = float(alive_scores[b, j])
                finished[b].append(Hypothesis(log_prob / length_penalty(length, alpha), log_prob, generated[b * k + j].tolist()))

