"""Tiny stand-in tokenizers for the data tests (the real ones live in tformer.tokenizers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from tformer.tokenizers.base import Tokenizer

__all__ = ["CharIds", "LabelIds", "PixelRows"]


class CharIds(Tokenizer):
    """str -> code points + end id 1; an empty string or "BAD" raises ValueError."""

    def prepare(self, raw: Any) -> Tensor:
        if not raw or raw == "BAD":
            raise ValueError(f"cannot prepare {raw!r}")
        return torch.tensor([ord(c) % 1000 + 2 for c in raw] + [1])


class LabelIds(Tokenizer):
    """label str -> a one-element id tensor, ids in order of first sight."""

    def __init__(self):
        super().__init__()
        self.ids: dict[str, int] = {}

    def prepare(self, raw: Any) -> Tensor:
        return torch.tensor([self.ids.setdefault(str(raw), len(self.ids))])


class PixelRows(Tokenizer):
    """(H, W) uint8 array -> (H, W) float rows, one token per row."""

    def prepare(self, raw: Any) -> Tensor:
        return torch.from_numpy(np.asarray(raw, dtype=np.float32) / 255.0)
