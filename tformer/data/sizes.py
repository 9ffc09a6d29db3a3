"""Per-item batch costs for token-budget batching, estimated without preparing every item."""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
from torch.utils.data import Dataset

from tformer.data.datasets import SKIPPED_ERRORS
from tformer.data.errors import DataWarning
from tformer.tokenizers.base import TextOutput, Tokenizer

__all__ = ["estimate_sizes"]


def estimate_sizes(
    raw: Dataset, tokenizers: Mapping[str, Tokenizer], columns: Mapping[str, str] | None = None,
    sample: int = 64, seed: int = 0,
) -> np.ndarray:
    """Per-item batch cost, the largest size over the task's fields in tokenizer units.

    Text fields are measured exactly (tokenizing is cheap). Other fields scale the dataset's
    ``size_hints()`` (audio frames, 1 per image) by the ratio ``tokenizer.size(prepare(x)) /
    hint`` measured on ``sample`` random items, field by field (e.g. about 1/4 for subwords over
    characters, 1/4 for 4x audio subsampling). A dataset without ``size_hints`` has every item
    prepared once (slow).

    Args:
        raw: a raw dataset of dict items.
        tokenizers: the task's fields, each with the tokenizer that measures it.
        columns: the data field each task field reads, where the names differ.
        sample: how many items calibrate the ratios.
        seed: which items those are.
    Returns:
        Integer sizes, one per item.
    """
    columns = {name: (columns or {}).get(name, name) for name in tokenizers}
    if not hasattr(raw, "size_hints"):
        warnings.warn(f"{type(raw).__name__} has no size_hints(); preparing every item to size it", DataWarning)
        return np.array([_measured(raw[i], tokenizers, columns) for i in range(len(raw))])
    hints = raw.size_hints()
    picked = np.random.default_rng(seed).permutation(len(raw))[:sample]
    fields = []
    for name, tokenizer in tokenizers.items():
        values = raw.column(columns[name])
        if isinstance(tokenizer, TextOutput):  # subword/character counts are cheap: measure them all
            fields.append(np.array([_size(tokenizer, value) for value in values], dtype=np.float64))
        else:
            hint = np.asarray(hints[columns[name]], dtype=np.float64)
            fields.append(hint * _ratio(values, picked, hint, tokenizer))
    sizes = np.max(np.stack(fields), axis=0)
    return np.maximum(np.ceil(sizes), 1).astype(np.int64)


def _ratio(values: Any, picked: np.ndarray, hints: np.ndarray, tokenizer: Tokenizer) -> float:
    measured, hinted = 0.0, 0.0
    for index in picked.tolist():
        try:
            measured += tokenizer.size(tokenizer.prepare(values[index]))
        except SKIPPED_ERRORS:
            continue
        hinted += hints[index]
    return measured / hinted if hinted > 0 else 1.0


def _size(tokenizer: Tokenizer, raw: Any) -> int:
    try:
        return tokenizer.size(tokenizer.prepare(raw))
    except SKIPPED_ERRORS:
        return 1


def _measured(item: Mapping[str, Any], tokenizers: Mapping[str, Tokenizer], columns: Mapping[str, str]) -> int:
    try:
        return max(max(t.size(t.prepare(item[columns[name]])) for name, t in tokenizers.items()), 1)
    except SKIPPED_ERRORS:
        return 1
