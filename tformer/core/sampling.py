"""Next-token rules for one output per row: argmax, or a draw with temperature, top-k and top-p."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["argmax_token", "sample_token"]


def argmax_token(logits: Tensor) -> Tensor:
    """(N, V) logits -> (N,) most likely ids."""
    return logits.argmax(-1)


def sample_token(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(N, V) logits -> (N,) ids drawn from softmax(logits / temperature).

    Args:
        temperature: > 1 flattens, < 1 sharpens the distribution; 0 is argmax.
        top_k: draw only among the ``top_k`` most likely ids.
        top_p: nucleus sampling (Holtzman et al. 2020): draw only among the most likely ids
            whose probabilities, added up, first reach ``top_p`` (the most likely is always kept).
        generator: the random source, for reproducible draws (on the logits' device).
    """
    _check(temperature, top_k, top_p)
    if temperature == 0.0:
        return argmax_token(logits)
    logits = logits.float() / temperature
    if top_k is not None:
        logits = _keep_top_k(logits, top_k)
    probs = logits.softmax(-1)  # (N, V)
    if top_p is not None:
        probs = _keep_top_p(probs, top_p)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # weights need not sum to 1


def _keep_top_k(logits: Tensor, k: int) -> Tensor:
    kth = logits.topk(min(k, logits.size(-1)), dim=-1).values[:, -1:]  # (N, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def _keep_top_p(probs: Tensor, p: float) -> Tensor:
    sorted_probs, order = probs.sort(-1, descending=True)  # (N, V)
    outside = sorted_probs.cumsum(-1) - sorted_probs >= p  # the more likely ids already reach p
    return torch.zeros_like(probs).scatter_(-1, order, sorted_probs.masked_fill(outside, 0.0))


def _check(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if temperature < 0.0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be within (0, 1] or None, got {top_p}")
