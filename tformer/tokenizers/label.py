"""Class labels: the target side of classification."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch
from torch import Tensor

from ..kinds import LABEL, TEXT
from ..registry import TOKENIZERS
from .base import Batch, Tokenizer

__all__ = ["LabelTokenizer", "ClassNames"]


def _natural_key(name: str) -> tuple[int, int | str]:
    # "2" before "10"; numeric names before other names.
    return (0, int(name)) if name.isdigit() else (1, name)


class ClassNames(Tokenizer):
    """A tokenizer of class names: numbered 0..n_classes-1, names sorted, numbers numerically;
    learned with ``fit`` where not given. ``label`` and ``boxes`` build on it.

    Args:
        d_model: unused (classes are not embedded); accepted so every tokenizer config looks alike.
        classes: the class names; ``None`` learns them with ``fit``.
    """

    def __init__(self, d_model: int | None = None, classes: Sequence[Any] | None = None):
        super().__init__()
        self.d_model = d_model
        self.classes: list[str] = []
        self.index: dict[str, int] = {}
        if classes is not None:
            self._set_classes(classes)

    def _set_classes(self, classes: Iterable[Any]) -> None:
        self.classes = sorted({str(c) for c in classes}, key=_natural_key)
        self.index = {name: i for i, name in enumerate(self.classes)}

    @property
    def needs_fit(self) -> bool:
        return not self.classes

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@TOKENIZERS.register("label")
class LabelTokenizer(ClassNames):
    """Maps class names to indices 0..n_classes-1 (names sorted, numbers numerically).

    Labels are compared as strings, so ``3`` and ``"3"`` are the same class.

    Args:
        d_model: unused (labels are not embedded); accepted so every tokenizer config looks alike.
        classes: the class names; ``None`` learns them with ``fit``.
    """

    reads = (LABEL, TEXT)  # any string can be a class name
    varies_in_length = False  # one class index per item

    def fit(self, corpus: Iterable[Any]) -> None:
        """Learn the class names from the training labels."""
        self._set_classes(corpus)

    def check(self, corpus: Iterable[Any], where: str) -> None:
        """Raise ``ValueError`` naming the labels of ``corpus`` that are not among the known classes."""
        unknown = sorted({str(c) for c in corpus} - set(self.index), key=_natural_key)
        if unknown:
            shown = ", ".join(map(repr, unknown[:10])) + (", ..." if len(unknown) > 10 else "")
            raise ValueError(f"{where}: label(s) {shown} not seen in training; known labels: {', '.join(self.classes)}")

    def prepare(self, raw: Any) -> Tensor:
        """Label -> (1,) class index; an unknown label is a ``ValueError`` naming the known ones."""
        name = str(raw)
        if name not in self.index:
            known = ", ".join(self.classes) or "(none: call fit first)"
            raise ValueError(f"unknown label {name!r}; known labels: {known}")
        return torch.tensor([self.index[name]], dtype=torch.long)

    def collate(self, items: Sequence[Tensor]) -> Batch:
        """(1,) items -> Batch(values (B,), lengths (B,) of ones)."""
        values = torch.cat(list(items))
        return Batch(values, torch.ones_like(values))

    def example_inputs(self, batch: int = 2) -> Batch:
        """The classes in turn, as a batch of ``batch`` labels."""
        if not self.classes:
            raise ValueError("label has no classes yet: call fit(corpus) or load a checkpoint")
        return self.collate([self.prepare(self.classes[i % self.n_classes]) for i in range(batch)])

    def batch_item(self, values: Tensor, lengths: Tensor, index: int) -> Tensor:
        """The (1,) class index of item ``index``, as ``prepare`` gives it."""
        return values[index : index + 1]

    def decode(self, index: int | Tensor) -> str:
        """Class index -> class name."""
        return self.classes[int(index)]

    def size(self, item: Tensor) -> int:
        return 1

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        raise TypeError("label is a target-side tokenizer: use its class indices, it has no forward")

    def get_extra_state(self) -> dict[str, Any]:
        return {"classes": list(self.classes)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("classes"):
            self._set_classes(state["classes"])
