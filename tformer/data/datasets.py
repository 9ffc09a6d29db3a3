"""The raw-dataset base class and the dataset that runs the tokenizers' ``prepare`` on its items."""

from __future__ import annotations

import bisect
from typing import Any, Callable, Mapping, Sequence

import soundfile
import torch
from torch import Tensor
from torch.utils.data import Dataset

from tformer.data.errors import DataError
from tformer.kinds import fields_of
from tformer.tokenizers.base import Batch, Tokenizer

__all__ = ["RawDataset", "RawSubset", "RawConcat", "PreparedDataset", "split_off", "SKIPPED_ERRORS", "INDEX"]

# The batch entry beside the fields that holds each item's index in its split, (B,) int64: an
# evaluation gathered across DDP processes drops the items a padding batch repeats by it.
INDEX = "index"

# What a tokenizer's prepare may raise on one bad item (unreadable file, malformed text) that
# should skip that item rather than stop a long run; anything else is a bug and propagates.
SKIPPED_ERRORS = (ValueError, OSError, soundfile.SoundFileError)


class RawDataset(Dataset):
    """Items are dicts of plain Python values by field name, ``{"source": ..., "target": ...}``.

    Subclasses declare their fields and what each field's raw items are, ``fields`` (name ->
    one of ``tformer.kinds.KINDS``), so that a tokenizer that cannot read them is refused before
    training; a dataset without the declaration is not checked. Data sets of two fields call
    them ``source`` and ``target``, as the command line's ``source=``/``target=`` do.

    Args:
        columns: the values of each field, in item order, all of one length.
    """

    fields: dict[str, str] | None = None

    def __init__(self, columns: Mapping[str, Sequence[Any]]):
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{type(self).__name__}: fields of different lengths {lengths}")
        self.columns = dict(columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {name: values[index] for name, values in self.columns.items()}

    def field_names(self) -> list[str]:
        """The fields every item holds."""
        return list(self.columns)

    def column(self, name: str) -> Sequence[Any]:
        """The raw values of field ``name`` in order (to fit a vocabulary or a label set)."""
        if name not in self.columns:
            raise KeyError(f"{type(self).__name__} has no field {name!r}; its fields: {', '.join(self.columns)}")
        return self.columns[name]

    def size_hints(self) -> dict[str, list[float]]:
        """Cheap per-item size estimates of each field, proportional to tokenized lengths (no
        ``prepare``); this default counts characters of str values, 1 for anything else."""
        return {name: [_length(v) for v in values] for name, values in self.columns.items()}


def _length(value: Any) -> float:
    return float(len(value)) if isinstance(value, str) else 1.0


class RawSubset(Dataset):
    """The items of a raw dataset at ``indices``, keeping its fields, columns and size hints.

    Args:
        raw: a raw dataset (``RawDataset`` or anything with the same methods).
        indices: the positions kept, in order.
    """

    def __init__(self, raw: Dataset, indices: Sequence[int]):
        self.raw = raw
        self.indices = list(indices)

    @property
    def fields(self) -> dict[str, str] | None:
        """What the parent's fields hold (``RawDataset.fields``)."""
        return fields_of(self.raw)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.raw[self.indices[index]]

    def field_names(self) -> list[str]:
        """The parent's fields."""
        return self.raw.field_names()

    def column(self, name: str) -> list[Any]:
        """The raw values of field ``name`` at the kept positions."""
        values = self.raw.column(name)
        return [values[i] for i in self.indices]

    def size_hints(self) -> dict[str, list[float]]:
        """The parent's size hints at the kept positions."""
        return {name: [hints[i] for i in self.indices] for name, hints in self.raw.size_hints().items()}


class RawConcat(Dataset):
    """The items of several raw datasets one after the other: training on more than one corpus.

    In a config: ``train: {_target_: tformer.data.RawConcat, parts: [{_target_: ...}, ...]}``.

    Args:
        parts: raw datasets with the same fields (extra fields of later parts are an error).
    """

    def __init__(self, parts: Sequence[Dataset]):
        self.parts = list(parts)
        if not self.parts:
            raise DataError("RawConcat: parts is empty; give it the datasets to join")
        names = self.parts[0].field_names()
        for number, part in enumerate(self.parts[1:], start=2):
            if sorted(part.field_names()) != sorted(names):
                raise DataError(f"RawConcat: part {number} ({type(part).__name__}) has fields "
                                f"{', '.join(part.field_names())}; part 1 has {', '.join(names)}")
        self.starts = [0]
        for part in self.parts:
            self.starts.append(self.starts[-1] + len(part))

    @property
    def fields(self) -> dict[str, str] | None:
        """What the first part's fields hold (``RawDataset.fields``)."""
        return fields_of(self.parts[0])

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        part = bisect.bisect_right(self.starts, index) - 1
        return self.parts[part][index - self.starts[part]]

    def field_names(self) -> list[str]:
        """The first part's fields."""
        return self.parts[0].field_names()

    def column(self, name: str) -> list[Any]:
        """The raw values of field ``name``, part after part."""
        return [value for part in self.parts for value in part.column(name)]

    def size_hints(self) -> dict[str, list[float]]:
        """The parts' size hints, part after part."""
        hints = [part.size_hints() for part in self.parts]
        return {name: [h for part in hints for h in part[name]] for name in hints[0]}


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
    """Runs each field's tokenizer ``prepare`` on the raw items; runs in DataLoader workers.

    An item whose ``prepare`` raises one of ``SKIPPED_ERRORS`` becomes ``None`` and is dropped
    by ``collate``; it is marked in ``failed``, a flag per item in shared memory, so the main
    process sees the failures of every worker (forked or spawned) without a message per item
    (``SkippedItems`` warns about them once). A batch whose items all failed becomes a batch of
    the first item that prepares, so no step ever sees an empty batch (and no DDP rank skips a
    step its peers take).

    Args:
        raw: a dataset of dict items (``RawDataset``).
        tokenizers: the task's fields, each with the tokenizer that prepares and collates it.
        columns: the data field each task field reads, where the names differ (``{"text":
            "target"}``: a language model reading the target side of parallel text).
        augment: per task field, a random transform of its raw values applied before ``prepare``
            (``tformer.data.augment.Augmentations``); the DataModule gives it to the training split only.
    """

    def __init__(
        self, raw: Dataset, tokenizers: Mapping[str, Tokenizer], columns: Mapping[str, str] | None = None,
        augment: Mapping[str, Callable[[Any], Any]] | None = None,
    ):
        if INDEX in tokenizers:
            raise ValueError(f"a task field may not be named {INDEX!r}: batches hold the items' indices under it")
        self.raw = raw
        self.tokenizers = dict(tokenizers)
        self.columns = {name: (columns or {}).get(name, name) for name in self.tokenizers}
        self.augment = dict(augment or {})
        # Shared memory: a worker's writes are seen here, and a write needs no lock, pipe or queue
        # (a worker never blocks on a full pipe); it travels to spawned workers with the dataset.
        self.failed = torch.zeros(len(raw), dtype=torch.bool).share_memory_()

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index: int) -> dict[str, Tensor] | None:
        try:
            return self._prepare(index)
        except SKIPPED_ERRORS:
            self.failed[index] = True
            return None

    def _prepare(self, index: int) -> dict[str, Tensor]:
        item = self.raw[index]
        prepared = {name: tokenizer.prepare(self._augmented(name, item[self.columns[name]]))
                    for name, tokenizer in self.tokenizers.items()}
        return {**prepared, INDEX: index}

    def _augmented(self, name: str, raw: Any) -> Any:
        return self.augment[name](raw) if name in self.augment else raw

    @property
    def failures(self) -> int:
        """How many distinct items failed to prepare so far, in any process."""
        return int(self.failed.sum())

    def failed_indices(self) -> list[int]:
        """The items that failed to prepare so far, in any process, in index order."""
        return self.failed.nonzero().flatten().tolist()

    def describe_failure(self, index: int) -> str:
        """``item 7, source (cats/3.png): ValueError: ...``: why item ``index`` fails, found by
        preparing its fields again.

        Args:
            index: an item that failed (in whichever process).
        Returns:
            The index, the field and its raw value shown briefly, and the error's type and message.
        """
        item = self.raw[index]
        for name, tokenizer in self.tokenizers.items():
            raw = item[self.columns[name]]
            try:
                tokenizer.prepare(self._augmented(name, raw))
            except SKIPPED_ERRORS as error:
                return f"item {index}, {name} ({_brief(raw)}): {type(error).__name__}: {error}"
        return f"item {index}: failed once, prepared on a second try"

    def _first_good_item(self) -> dict[str, Tensor]:
        for index in range(len(self)):
            item = self[index]
            if item is not None:
                return item
        first = f"; {self.describe_failure(0)}" if len(self) else ""
        raise DataError(f"no item of {type(self.raw).__name__} could be prepared{first}")

    def collate(self, items: Sequence[dict[str, Tensor] | None]) -> dict[str, Batch | Tensor]:
        """Pad a list of prepared items into one ``Batch`` per field.

        Args:
            items: prepared items; ``None`` (failed) items are dropped.
        Returns:
            Field name -> its padded batch, and ``INDEX`` -> the items' indices (B,).
        """
        kept = [item for item in items if item is not None] or [self._first_good_item()]
        batch: dict[str, Batch | Tensor] = {name: tokenizer.collate([item[name] for item in kept])
                                            for name, tokenizer in self.tokenizers.items()}
        batch[INDEX] = torch.tensor([item[INDEX] for item in kept], dtype=torch.long)
        return batch


def _brief(raw: Any, width: int = 60) -> str:
    """A str item cut to ``width`` characters in the middle (a line's start, a path's file name
    stay); other values by their type."""
    if not isinstance(raw, str):
        return type(raw).__name__
    half = (width - 3) // 2
    return raw if len(raw) <= width else f"{raw[:half]}...{raw[-half:]}"
