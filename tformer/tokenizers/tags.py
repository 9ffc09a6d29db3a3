"""Word tags: one label per word of a text field (punctuation after it, its case, a named entity)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch
from torch import Tensor

from ..kinds import TEXT
from ..registry import TOKENIZERS
from .base import Batch, Tokenizer, pad_sequences

__all__ = ["TagTokenizer", "IGNORE"]

IGNORE = -100  # a padded word no loss or metric counts (F.cross_entropy's ignore_index)


@TOKENIZERS.register("tags")
class TagTokenizer(Tokenizer):
    """Maps a line of whitespace-separated tags ("O COMMA O PERIOD"), one per word, to tag indices.

    The task aligns the tags with the words of its text field, whose tokenizer marks where each
    word starts (``word_starts``); a tag line must hold as many tags as its text has words.

    Args:
        d_model: unused (tags are not embedded); accepted so every tokenizer config looks alike.
        tags: the tag names; ``None`` learns them with ``fit`` (sorted).
    """

    reads = (TEXT,)

    def __init__(self, d_model: int | None = None, tags: Sequence[str] | None = None):
        super().__init__()
        self.d_model = d_model
        self.tags: list[str] = []
        self.index: dict[str, int] = {}
        if tags is not None:
            self._set_tags(tags)

    def _set_tags(self, tags: Iterable[str]) -> None:
        self.tags = sorted({str(t) for t in tags})
        self.index = {name: i for i, name in enumerate(self.tags)}

    @property
    def needs_fit(self) -> bool:
        return not self.tags

    @property
    def n_tags(self) -> int:
        return len(self.tags)

    def fit(self, corpus: Iterable[str]) -> None:
        """Learn the tag names from the training lines."""
        self._set_tags(tag for line in corpus for tag in str(line).split())

    def check(self, corpus: Iterable[str], where: str) -> None:
        """Raise ``ValueError`` naming the tags of ``corpus`` that training never had."""
        unknown = sorted({tag for line in corpus for tag in str(line).split()} - set(self.index))
        if unknown:
            raise ValueError(f"{where}: tag(s) {', '.join(map(repr, unknown[:10]))} not seen in training; "
                             f"known tags: {', '.join(self.tags)}")

    def prepare(self, raw: str | Sequence[str]) -> Tensor:
        """A tag line (or a list of tags) -> (W,) tag indices; an unknown tag is a ``ValueError``."""
        names = raw.split() if isinstance(raw, str) else [str(t) for t in raw]
        unknown = [t for t in names if t not in self.index]
        if unknown:
            known = ", ".join(self.tags) or "(none: call fit first)"
            raise ValueError(f"unknown tag(s) {', '.join(map(repr, unknown[:5]))}; known tags: {known}")
        return torch.tensor([self.index[t] for t in names], dtype=torch.long)

    def collate(self, items: Sequence[Tensor]) -> Batch:
        """(W,) items -> Batch(values (B, W) padded with ``IGNORE``, lengths (B,) words)."""
        return pad_sequences(items, pad_value=IGNORE)

    def decode(self, ids: Sequence[int] | Tensor) -> list[str]:
        """Tag indices -> tag names."""
        return [self.tags[int(i)] for i in ids]

    def example_inputs(self, batch: int = 2) -> Batch:
        """Lines of 1, 2, ... tags, the known tags in turn."""
        if not self.tags:
            raise ValueError("tags has no tag names yet: call fit(corpus) or load a checkpoint")
        return self.collate([self.prepare([self.tags[j % self.n_tags] for j in range(i + 1)]) for i in range(batch)])

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        raise TypeError("tags is a target-side tokenizer: use its tag indices, it has no forward")

    def get_extra_state(self) -> dict[str, Any]:
        return {"tags": list(self.tags)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("tags"):
            self._set_tags(state["tags"])
