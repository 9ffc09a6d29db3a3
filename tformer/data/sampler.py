"""Token-budget batching: length-bucketed batches whose padded size stays under ``max_tokens``."""

from __future__ import annotations

import warnings
from typing import Iterator, Sequence

import numpy as np
import torch.distributed as dist
from torch.utils.data import BatchSampler, DistributedSampler, Sampler

from tformer.data.errors import DataWarning

__all__ = ["TokenBudgetBatchSampler", "distributed_rank", "ResumableBatches"]


def distributed_rank(num_replicas: int | None = None, rank: int | None = None) -> tuple[int, int]:
    """Fill in the world size and rank from ``torch.distributed`` when not given.

    Args:
        num_replicas: the number of processes sharing the data, or None.
        rank: this process's index among them, or None.
    Returns:
        ``(num_replicas, rank)``; ``(1, 0)`` outside a distributed run.
    """
    initialized = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if initialized else 1
    if rank is None:
        rank = dist.get_rank() if initialized else 0
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank={rank} must be in [0, num_replicas={num_replicas})")
    return num_replicas, rank


class TokenBudgetBatchSampler(BatchSampler):
    """Yields lists of indices whose ``max size x count`` stays within ``max_tokens``.

    The indices are shuffled once (by ``seed``), cut into buckets of about
    ``bucket_size_multiplier`` batches, sorted by size inside each bucket (so a batch holds
    similar lengths and little padding) and cut greedily into batches; each epoch shuffles the
    order of these batches (as fairseq does). Forming the batches once keeps their number the
    same every epoch, which Lightning relies on: it runs the end-of-epoch validation at batch
    ``len(sampler)`` of each epoch, so an epoch with fewer batches would skip it. An item larger
    than ``max_tokens`` forms a batch of its own. With several replicas every rank gets the same
    number of disjoint batches: the list is padded by repeating batches (or cut, ``drop_last``)
    to a multiple of ``num_replicas``. The order depends only on ``(seed, epoch)``.

    Args:
        sizes: the cost of each item (tokens, frames or patches).
        max_tokens: the budget for ``max(size) * len(batch)``.
        shuffle: shuffle items and batches each epoch (training); sorted order otherwise.
        seed: the base random seed, shared by all ranks.
        num_replicas: the number of processes; from ``torch.distributed`` when None.
        rank: this process's index; from ``torch.distributed`` when None.
        bucket_size_multiplier: bucket size in batches; larger pads less but mixes less.
        drop_last: cut the batch list to a multiple of ``num_replicas`` instead of padding it.
        sampler: a ``DistributedSampler`` whose ``num_replicas`` and ``rank`` are used when those
            are None (Lightning injects one under DDP); its order is ignored.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        max_tokens: int,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        bucket_size_multiplier: int = 100,
        drop_last: bool = False,
        sampler: Sampler | None = None,
    ):
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        if isinstance(sampler, DistributedSampler):
            num_replicas = sampler.num_replicas if num_replicas is None else num_replicas
            rank = sampler.rank if rank is None else rank
        self.num_replicas, self.rank = distributed_rank(num_replicas, rank)
        self.sizes = np.maximum(np.asarray(sizes, dtype=np.int64).reshape(-1), 1)
        self.max_tokens, self.shuffle, self.seed = max_tokens, shuffle, seed
        self.drop_last = drop_last
        self.batch_size = None  # no fixed batch size; Lightning looks for the attribute
        self.sampler = self  # Lightning calls set_epoch on ``batch_sampler.sampler``
        self.epoch = 0
        typical = int(np.median(self.sizes)) if len(self.sizes) else 1
        self.bucket_size = max(1, max_tokens // typical) * max(1, bucket_size_multiplier)
        self._batches: list[list[int]] | None = None  # formed once, on first use
        self._cached: tuple[int, list[list[int]]] | None = None
        self._warn_oversized()

    def _warn_oversized(self) -> None:
        oversized = self.sizes > self.max_tokens
        if oversized.any():
            warnings.warn(
                f"{int(oversized.sum())} item(s) are larger than max_tokens={self.max_tokens} (largest "
                f"{int(self.sizes.max())}); each forms a batch of its own", DataWarning, stacklevel=3,
            )

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order ``__iter__`` yields (Lightning calls this every epoch)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._global_batches()[self.rank :: self.num_replicas]

    def __len__(self) -> int:
        return len(self._global_batches()) // self.num_replicas

    def _global_batches(self) -> list[list[int]]:
        """All ranks' batches of the current epoch, padded or cut to a multiple of the ranks."""
        if self._cached is None or self._cached[0] != self.epoch:
            self._cached = (self.epoch, self._make_batches())
        return self._cached[1]

    def _make_batches(self) -> list[list[int]]:
        if self._batches is None:
            self._batches = self._form_batches()
        batches = self._batches
        if self.shuffle:
            batches = [batches[i] for i in np.random.default_rng([self.seed, self.epoch]).permutation(len(batches))]
        return self._fit_to_replicas(batches)

    def _form_batches(self) -> list[list[int]]:
        order = np.random.default_rng([self.seed]).permutation(len(self.sizes)) if self.shuffle else np.arange(len(self.sizes))
        batches: list[list[int]] = []
        for start in range(0, len(order), self.bucket_size):
            bucket = order[start : start + self.bucket_size]
            bucket = bucket[np.argsort(self.sizes[bucket], kind="stable")]
            batches.extend(self._cut(bucket))
        return batches

    def _cut(self, bucket: np.ndarray) -> list[list[int]]:
        """Cut indices sorted by ascending size into batches within the budget."""
        batches, current = [], []
        for index, size in zip(bucket.tolist(), self.sizes[bucket].tolist()):
            if current and (len(current) + 1) * size > self.max_tokens:
                batches.append(current)
                current = []
            current.append(index)
        if current:
            batches.append(current)
        return batches

    def _fit_to_replicas(self, batches: list[list[int]]) -> list[list[int]]:
        remainder = len(batches) % self.num_replicas
        if remainder == 0 or not batches:
            return batches
        if self.drop_last:
            return batches[: len(batches) - remainder]
        missing = self.num_replicas - remainder
        return batches + [batches[i % len(batches)] for i in range(missing)]


class ResumableBatches(Sampler):
    """Wraps a batch sampler so an epoch can start after the batches already trained on.

    A run resumed from a mid-epoch checkpoint skips the batches its first part trained on, and,
    since the order depends only on (seed, epoch), continues with exactly the next batch. The
    count is asked when an epoch's iteration starts, not when the loader is built: Lightning may
    build the loader before the checkpoint is restored (to estimate the run's length).
    ``sampler`` is the wrapped one's, so Lightning's per-epoch ``set_epoch`` still reaches it.

    Args:
        batch_sampler: yields lists of indices, deterministically per epoch.
        batches_done: returns how many batches of the starting epoch were trained on already.
    """

    def __init__(self, batch_sampler: Sampler, batches_done: Callable[[], int] = lambda: 0):
        self.batch_sampler = batch_sampler
        self.sampler = getattr(batch_sampler, "sampler", batch_sampler)
        self.batch_size = getattr(batch_sampler, "batch_size", None)
        self.batches_done = batches_done

    def __iter__(self) -> Iterator[list[int]]:
        batches = iter(self.batch_sampler)
        for _ in range(self.batches_done()):
            next(batches, None)
        yield from batches

    def __len__(self) -> int:
        return len(self.batch_sampler)
