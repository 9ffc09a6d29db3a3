"""Greedy and beam search on the cached decoder (batched; length penalty as in GNMT)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from .transformer import Decoder

__all__ = ["greedy_search", "beam_search", "beam_search_nbest", "Hypothesis", "length_penalty"]

EmbedStep = Callable[[Tensor, int], Tensor]  # (B, 1) ids, position -> (B, 1, d)
Project = Callable[[Tensor], Tensor]  # (B, 1, d) -> (B, 1, V) logits


class Hypothesis(NamedTuple):
    """A finished beam: ``score`` = ``log_prob`` / length penalty; ``ids`` without BOS and EOS."""

    score: float
    log_prob: float
    ids: list[int]


def length_penalty(length: Tensor | int, alpha: float) -> Tensor | float:
    """GNMT (Wu et al. 2016): lp(Y) = ((5 + |Y|) / 6) ** alpha."""
    return ((5 + length) / 6) ** alpha


def _max_lengths(max_len: int | Tensor, batch: int, device: torch.device) -> Tensor:
    if isinstance(max_len, int):
        return torch.full((batch,), max_len, dtype=torch.long, device=device)
    if max_len.shape != (batch,):
        raise ValueError(f"max_len must be an int or a ({batch},) tensor, got shape {tuple(max_len.shape)}")
    return max_len.to(device)


@torch.no_grad()
def greedy_search(
    decoder: Decoder,
    memory: Tensor,
    memory_pad_mask: Tensor | None,
    embed_step: EmbedStep,
    project: Project,
    bos_id: int,
    eos_id: int,
    max_len: int | Tensor,
) -> list[list[int]]:
    """Pick the most likely token at each step until EOS or ``max_len`` tokens (EOS counted).

    Returns:
        per source, the generated ids without BOS and EOS.
    """
    batch = memory.size(0)
    limits = _max_lengths(max_len, batch, memory.device)
    cache = decoder.init_cache(memory, memory_pad_mask)
    token = torch.full((batch, 1), bos_id, dtype=torch.long, device=memory.device)
    done = torch.zeros(batch, dtype=torch.bool, device=memory.device)
    steps = []
    for t in range(int(limits.max())):
        logits = project(decoder.step(embed_step(token, t), cache))[:, -1]  # (B, V)
        token = logits.argmax(-1, keepdim=True)  # (B, 1)
        steps.append(token.squeeze(1).masked_fill(done, eos_id))
        done |= (token.squeeze(1) == eos_id) | (t + 1 >= limits)
        if bool(done.all()):
            break
    return [_until_eos(row, eos_id) for row in torch.stack(steps, 1).tolist()]


def _until_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


@torch.no_grad()
def beam_search(
    decoder: Decoder,
    memory: Tensor,
    memory_pad_mask: Tensor | None,
    embed_step: EmbedStep,
    project: Project,
    bos_id: int,
    eos_id: int,
    max_len: int | Tensor,
    beam_size: int = 4,
    alpha: float = 0.6,
) -> list[list[int]]:
    """Keep the ``beam_size`` best prefixes per source; finished hypotheses are ranked by
    log-probability / length_penalty. A source stops once it has ``beam_size`` finished
    hypotheses or reaches its ``max_len``; then its live beams count as finished.

    Returns:
        per source, the best hypothesis's ids without BOS and EOS.
    """
    n_best = beam_search_nbest(decoder, memory, memory_pad_mask, embed_step, project, bos_id, eos_id,
                               max_len, beam_size, alpha)
    return [hypotheses[0].ids if hypotheses else [] for hypotheses in n_best]


@torch.no_grad()
def beam_search_nbest(
    decoder: Decoder,
    memory: Tensor,
    memory_pad_mask: Tensor | None,
    embed_step: EmbedStep,
    project: Project,
    bos_id: int,
    eos_id: int,
    max_len: int | Tensor,
    beam_size: int = 4,
    alpha: float = 0.6,
) -> list[list[Hypothesis]]:
    """``beam_search``'s finished hypotheses (up to ``beam_size`` per source), best first, for
    rescoring with another model (e.g. CTC in ``AsrTask``)."""
    batch, k, device = memory.size(0), beam_size, memory.device
    limits = _max_lengths(max_len, batch, device)
    memory = memory.repeat_interleave(k, dim=0)  # (B*K, S, d)
    mask = memory_pad_mask.repeat_interleave(k, dim=0) if memory_pad_mask is not None else None
    cache = decoder.init_cache(memory, mask)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep one
    tokens = torch.full((batch * k, 1), bos_id, dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = torch.zeros(batch, dtype=torch.bool)
    base = (torch.arange(batch, device=device) * k).unsqueeze(1)  # (B, 1)
    for t in range(int(limits.max())):
        logp = project(decoder.step(embed_step(tokens[:, -1:], t), cache))[:, -1].float().log_softmax(-1)
        vocab = logp.size(-1)
        candidates = (scores.unsqueeze(2) + logp.view(batch, k, vocab)).view(batch, -1)  # (B, K*V)
        top_scores, top_index = candidates.topk(2 * k, dim=1)  # (B, 2K)
        is_eos = (top_index % vocab) == eos_id
        _collect_finished(finished, done, top_scores, top_index, is_eos, tokens, k, vocab, t, alpha)
        alive_scores, pick = top_scores.masked_fill(is_eos, float("-inf")).topk(k, dim=1)  # (B, K)
        alive_index = top_index.gather(1, pick)
        rows = (base + alive_index // vocab).view(-1)  # (B*K,) beam each survivor extends
        tokens = torch.cat([tokens.index_select(0, rows), (alive_index % vocab).view(-1, 1)], dim=1)
        cache.reorder(rows)
        at_limit = (t + 1 >= limits).cpu() & ~done
        _finish_at_limit(finished, at_limit, alive_scores, tokens, k, alpha)
        done |= torch.tensor([len(f) >= k for f in finished]) | at_limit
        if bool(done.all()):
            break
        scores = alive_scores.masked_fill(done.to(device).unsqueeze(1), float("-inf"))
    return [sorted(f, key=lambda h: -h.score) for f in finished]


def _collect_finished(finished, done, top_scores, top_index, is_eos, tokens, k, vocab, t, alpha) -> None:
    # An EOS among a source's top K candidates ends that hypothesis (as in fairseq).
    for b, slot in (is_eos[:, :k]).nonzero().tolist():
        if done[b] or len(finished[b]) >= k or top_scores[b, slot] == float("-inf"):
            continue
        beam = b * k + int(top_index[b, slot]) // vocab
        log_prob = float(top_scores[b, slot])
        finished[b].append(Hypothesis(log_prob / length_penalty(t + 1, alpha), log_prob, tokens[beam, 1:].tolist()))


def _finish_at_limit(finished, at_limit, alive_scores, tokens, k, alpha) -> None:
    # Sources stopped by their length limit keep their live beams as hypotheses.
    for b in at_limit.nonzero().flatten().tolist():
        if len(finished[b]) >= k:
            continue
        length = tokens.size(1) - 1
        for j in range(k):
            if len(finished[b]) < k and alive_scores[b, j] > float("-inf"):
                log_prob = float(alive_scores[b, j])
                finished[b].append(Hypothesis(log_prob / length_penalty(length, alpha), log_prob, tokens[b * k + j, 1:].tolist()))

