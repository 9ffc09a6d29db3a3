"""Ranking by embedding similarity: the rank of each pair's own document, recall@k, top-k search,
and the embeddings of a whole split gathered across DDP processes."""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ranks_of_pairs", "recall_at", "top_k", "gather_split"]


def ranks_of_pairs(queries: Tensor, documents: Tensor, chunk: int = 1024) -> Tensor:
    """The rank (0 = first) of document i among all documents for query i, by cosine similarity.

    Ties are broken by index, as a stable sort would: a document scoring the same as the right
    one counts above it when it comes first, so a model that gives every document one vector
    ranks them in order (recall@1 = 1/N), not all first.

    Args:
        queries: (N, d) embeddings.
        documents: (N, d) embeddings; row i is query i's own document.
        chunk: queries scored at a time (memory grows with chunk x N).
    Returns:
        (N,) int64 ranks.
    """
    if queries.shape != documents.shape:
        raise ValueError(f"queries {tuple(queries.shape)} and documents {tuple(documents.shape)} must pair row by row")
    queries, documents = F.normalize(queries.float(), dim=-1), F.normalize(documents.float(), dim=-1)
    ranks = []
    for start in range(0, queries.size(0), chunk):
        scores = queries[start : start + chunk] @ documents.T  # (c, N)
        rows = torch.arange(scores.size(0), device=scores.device)
        own = scores[rows, rows + start].unsqueeze(1)
        before = torch.arange(scores.size(1), device=scores.device) < (rows + start).unsqueeze(1)
        ranks.append((scores > own).sum(1) + ((scores == own) & before).sum(1))
    return torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.long)


def recall_at(ranks: Tensor, k: int) -> float:
    """The share of queries whose own document is among the first ``k``."""
    return float((ranks < k).float().mean()) if ranks.numel() else 0.0


def top_k(queries: Tensor, documents: Tensor, k: int) -> list[list[tuple[int, float]]]:
    """The ``k`` documents most similar to each query (cosine), best first.

    Args:
        queries: (Q, d) embeddings.
        documents: (D, d) embeddings.
        k: how many per query (at most D).
    Returns:
        Per query, ``[(document index, cosine similarity), ...]``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scores = F.normalize(queries.float(), dim=-1) @ F.normalize(documents.float(), dim=-1).T
    values, indices = scores.topk(min(k, scores.size(1)), dim=1)
    return [list(zip(i.tolist(), v.tolist())) for i, v in zip(indices, values)]


def gather_split(module: Any, index: Tensor, rows: Sequence[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """Every process's items of a split, each once, in index order.

    A DDP evaluation shards a split's batches across processes and pads the last round with
    repeated batches; this gathers the rows of all processes and keeps the first of each index.

    Args:
        module: the LightningModule (``all_gather``, ``trainer``).
        index: (n,) the items' indices in the split, this process.
        rows: tensors (n, ...) of this process's items, e.g. query and document embeddings.
    Returns:
        The (N,) sorted unique indices, and each of ``rows`` gathered and ordered to match.
    """
    trainer = getattr(module, "_trainer", None)
    if trainer is not None and trainer.world_size > 1:
        count = torch.tensor(index.numel(), device=index.device)
        counts = module.all_gather(count).flatten().tolist()
        most = max(counts)

        def everyone(x: Tensor) -> Tensor:
            padded = x.new_zeros((most, *x.shape[1:]))
            padded[: x.size(0)] = x
            gathered = module.all_gather(padded)  # (world, most, ...)
            return torch.cat([part[:n] for part, n in zip(gathered, counts)])

        index, rows = everyone(index), [everyone(x) for x in rows]
    unique, first = _first_of_each(index)
    return unique, [x[first] for x in rows]


def _first_of_each(index: Tensor) -> tuple[Tensor, Tensor]:
    """Sorted unique values of ``index`` and the position where each first occurs."""
    order = torch.argsort(index, stable=True)
    ordered = index[order]
    keep = torch.ones_like(ordered, dtype=torch.bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep], order[keep]
