"""The raw-dataset base class and the dataset that runs the tokenizers' ``prepare`` on its items."""

from __future__ import annotations

from typing import Any, Sequence

import soundfile
import torch
from torch import Tensor
from torch.utils.data import Dataset

from tformer.data.errors import DataError
from tformer.kinds import kind_of
from tformer.tokenizers.base import Batch, Tokenizer

__all__ = ["RawDataset", "RawSubset", "PreparedDataset", "split_off", "SKIPPED_ERRORS"]

# What a tokenizer's prepare may raise on one bad item (unreadable file, malformed text) that
# should skip that item rather than stop a long run; anything else is a bug and propagates.
SKIPPED_ERRORS = (ValueError, OSError, soundfile.SoundFileError)


class RawDataset(Dataset):
    """Items are ``(source_raw, target_raw)`` pairs of plain Python values.

    Subclasses declare what their raw items are, ``source_kind`` and ``target_kind`` (one of
    ``tformer.kinds.KINDS`` each), so that a tokenizer that cannot read them is refused before
    training; None (undeclared) is not checked.

    Args:
        pairs: the items.
    """

    source_kind: str | None = None
    target_kind: str | None = None

    def __init__(self, pairs: list[tuple[Any, Any]]):
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.pairs[index]

    def sources(self) -> list[Any]:
        """The raw source values in order (to fit a source vocabulary)."""
        return [source for source, _ in self.pairs]

    def targets(self) -> list[Any]:
        """The raw target values in order (to fit a target vocabulary or label set)."""
        return [target for _, target in self.pairs]

    def size_hints(self) -> tuple[list[float], list[float]]:
        """Cheap per-item size estimates, proportional to tokenized lengths (no ``prepare``).

        Returns:
            ``(source_hints, target_hints)``; this default counts characters of str values.
        """
        return [_length(s) for s, _ in self.pairs], [_length(t) for _, t in self.pairs]


def _length(value: Any) -> float:
    return float(len(value)) if isinstance(value, str) else 1.0


class RawSubset(Dataset):
    """The items of a raw dataset at ``indices``, keeping ``sources``/``targets``/``size_hints``.

    Args:
        raw: a raw dataset (``RawDataset`` or anything with the same methods).
        indices: the positions kept, in order.
    """

    def __init__(self, raw: Dataset, indices: Sequence[int]):
        self.raw = raw
        self.indices = list(indices)

    @property
    def source_kind(self) -> str | None:
        """What the parent's source items are (``RawDataset.source_kind``)."""
        return kind_of(self.raw, "source")

    @property
    def target_kind(self) -> str | None:
        """What the parent's target items are (``RawDataset.target_kind``)."""
        return kind_of(self.raw, "target")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.raw[self.indices[index]]

    def sources(self) -> list[Any]:
        """The raw source values of the kept items."""
        return [self.raw[i][0] for i in self.indices]

    def targets(self) -> list[Any]:
        """The raw target values of the kept items."""
        return [self.raw[i][1] for i in self.indices]

    def size_hints(self) -> tuple[list[float], list[float]]:
        """The parent's size hints at the kept positions."""
        sources, targets = self.raw.size_hints()
        return [sources[i] for i in self.indices], [targets[i] for i in self.indices]


def split_off(raw: Dataset, fraction: float, seed: int = 0) -> tuple[RawSubset, RawSubset]:
    """Split a random ``fraction`` off ``raw`` (at least one item), the same for every seed-sharing process.

    Args:
        raw: the dataset to split.
        fraction: the share that goes to the second part, in (0, 1).
        seed: the seed of the split.
    Returns:
        ``(rest, split_part)``, each keeping the original order.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    order = torch.randperm(len(raw), generator=torch.Generator().manual_seed(seed)).tolist()
    count = max(1, round(len(raw) * fraction))
    return RawSubset(raw, sorted(order[count:])), RawSubset(raw, sorted(order[:count]))


class PreparedDataset(Dataset):
    """Runs each tokenizer's ``prepare`` on the raw items; runs in DataLoader workers.

    An item whose ``prepare`` raises one of ``SKIPPED_ERRORS`` becomes ``None`` and is dropped
    by ``collate``; it is marked in ``failed``, a flag per item in shared memory, so the main
    process sees the failures of every worker (forked or spawned) without a message per item
    (``SkippedItems`` warns about them once). A batch whose items all failed becomes a batch of
    the first item that prepares, so no step ever sees an empty batch (and no DDP rank skips a
    step its peers take).

    Args:
        raw: a dataset of ``(source_raw, target_raw)`` pairs.
        source_tokenizer: prepares and collates the sources.
        target_tokenizer: prepares and collates the targets.
    """

    def __init__(self, raw: Dataset, source_tokenizer: Tokenizer, target_tokenizer: Tokenizer):
        self.raw = raw
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        # Shared memory: a worker's writes are seen here, and a write needs no lock, pipe or queue
        # (a worker never blocks on a full pipe); it travels to spawned workers with the dataset.
        self.failed = torch.zeros(len(raw), dtype=torch.bool).share_memory_()

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor] | None:
        try:
            return self._prepare(index)
        except SKIPPED_ERRORS:
            self.failed[index] = True
            return None

    def _prepare(self, index: int) -> tuple[Tensor, Tensor]:
        source, target = self.raw[index]
        return self.source_tokenizer.prepare(source), self.target_tokenizer.prepare(target)

    @property
    def failures(self) -> int:
        """How many distinct items failed to prepare so far, in any process."""
        return int(self.failed.sum())

    def failed_indices(self) -> list[int]:
        """The items that failed to prepare so far, in any process, in index order."""
        return self.failed.nonzero().flatten().tolist()

    def describe_failure(self, index: int) -> str:
        """``item 7 (cats/3.png): ValueError: ...``: why item ``index`` fails, found by preparing it again.

        Args:
            index: an item that failed (in whichever process).
        Returns:
            The index, the raw source shown briefly, and the error's type and message.
        """
        shown = _brief(self.raw[index][0])
        try:
            self._prepare(index)
        except SKIPPED_ERRORS as error:
            return f"item {index} ({shown}): {type(error).__name__}: {error}"
        return f"item {index} ({shown}): failed once, prepared on a second try"

    def _first_good_item(self) -> tuple[Tensor, Tensor]:
        for index in range(len(self)):
            item = self[index]
            if item is not None:
                return item
        first = f"; {self.describe_failure(0)}" if len(self) else ""
        raise DataError(f"no item of {type(self.raw).__name__} could be prepared{first}")

    def collate(self, items: Sequence[tuple[Tensor, Tensor] | None]) -> tuple[Batch, Batch]:
        """Pad a list of prepared items into ``(source Batch, target Batch)``.

        Args:
            items: prepared items; ``None`` (failed) items are dropped.
        Returns:
            The two batches.
        """
        kept = [item for item in items if item is not None] or [self._first_good_item()]
        sources, targets = zip(*kept)
        return self.source_tokenizer.collate(sources), self.target_tokenizer.collate(targets)


def _brief(raw: Any, width: int = 60) -> str:
    """A str item cut to ``width`` characters in the middle (a line's start, a path's file name
    stay); other values by their type."""
    if not isinstance(raw, str):
        return type(raw).__name__
    half = (width - 3) // 2
    return raw if len(raw) <= width else f"{raw[:half]}...{raw[-half:]}"
