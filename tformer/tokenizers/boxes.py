"""Objects on an image: the target side of detection, boxes and their classes."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import Tensor
from torchvision.ops import box_convert

from ..kinds import BOXES
from ..registry import TOKENIZERS
from .base import Batch, pad_sequences
from .label import ClassNames, _natural_key

__all__ = ["BoxesTokenizer"]

_KEYS = ("boxes", "labels", "width", "height")


def _check_item(raw: Any) -> None:
    if not isinstance(raw, Mapping) or any(key not in raw for key in _KEYS):
        shown = sorted(raw) if isinstance(raw, Mapping) else type(raw).__name__
        raise ValueError(f"boxes reads {{'boxes': [[x0, y0, x1, y1], ...], 'labels': [...], 'width': W, 'height': H}} "
                         f"(pixels), got {shown}")
    if len(raw["boxes"]) != len(raw["labels"]):
        raise ValueError(f"{len(raw['boxes'])} boxes but {len(raw['labels'])} labels; give one label per box")


@TOKENIZERS.register("boxes")
class BoxesTokenizer(ClassNames):
    """An image's boxes and labels -> (M, 5) rows ``[class, cx, cy, w, h]``, the box's centre and
    size as fractions of the image's width and height (DETR's targets), classes numbered as the
    ``label`` tokenizer numbers them (names sorted, numbers numerically).

    Args:
        d_model: unused (boxes are not embedded); accepted so every tokenizer config looks alike.
        classes: the class names; ``None`` learns them with ``fit``.
    """

    reads = (BOXES,)
    position_unit = "object"

    def fit(self, corpus: Iterable[Mapping[str, Any]]) -> None:
        """Learn the class names from the labels of the training items."""
        self._set_classes(label for item in corpus for label in item["labels"])

    def check(self, corpus: Iterable[Mapping[str, Any]], where: str) -> None:
        """Raise ``ValueError`` naming the labels of ``corpus`` that training never had."""
        unknown = sorted({str(label) for item in corpus for label in item["labels"]} - set(self.index), key=_natural_key)
        if unknown:
            raise ValueError(f"{where}: label(s) {', '.join(map(repr, unknown[:10]))} not seen in training; known labels: "
                             f"{', '.join(self.classes)}")

    def prepare(self, raw: Mapping[str, Any]) -> Tensor:
        """``{"boxes": pixel [x0, y0, x1, y1] each, "labels", "width", "height"}`` -> (M, 5) float
        rows ``[class, cx, cy, w, h]``, coordinates in [0, 1]; an unknown label is a ``ValueError``."""
        _check_item(raw)
        unknown = [str(label) for label in raw["labels"] if str(label) not in self.index]
        if unknown:
            known = ", ".join(self.classes) or "(none: call fit first)"
            raise ValueError(f"unknown label(s) {', '.join(map(repr, unknown[:5]))}; known labels: {known}")
        scale = torch.tensor([raw["width"], raw["height"], raw["width"], raw["height"]], dtype=torch.float32)
        boxes = torch.tensor(raw["boxes"], dtype=torch.float32).reshape(-1, 4) / scale
        classes = torch.tensor([self.index[str(label)] for label in raw["labels"]], dtype=torch.float32)
        return torch.cat([classes[:, None], box_convert(boxes, "xyxy", "cxcywh")], dim=1)

    def collate(self, items: Sequence[Tensor]) -> Batch:
        """(M_i, 5) items -> Batch(values (B, M_max, 5) padded with zeros, lengths (B,) boxes)."""
        return pad_sequences(items, pad_value=0.0)

    def decode(self, rows: Tensor, width: float = 1.0, height: float = 1.0) -> dict[str, list]:
        """(M, 5) rows as ``prepare`` makes them -> ``{"boxes": [[x0, y0, x1, y1], ...], "labels": [...]}``
        in pixels of a ``width`` x ``height`` image (fractions of it by default)."""
        scale = rows.new_tensor([width, height, width, height])
        boxes = box_convert(rows[:, 1:].float(), "cxcywh", "xyxy") * scale
        return {"boxes": boxes.tolist(), "labels": [self.classes[int(c)] for c in rows[:, 0]]}

    def example_inputs(self, batch: int = 2) -> Batch:
        """Item i holds i + 1 boxes along the diagonal of a 100 x 100 image, the classes in turn."""
        if not self.classes:
            raise ValueError("boxes has no classes yet: call fit(corpus) or load a checkpoint")
        items = [{"boxes": [[10 * (j % 6), 10 * (j % 6), 10 * (j % 6) + 30, 10 * (j % 6) + 20] for j in range(i + 1)],
                  "labels": [self.classes[j % self.n_classes] for j in range(i + 1)], "width": 100, "height": 100}
                 for i in range(batch)]
        return self.collate([self.prepare(item) for item in items])

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        raise TypeError("boxes is a target-side tokenizer: use its rows of classes and boxes, it has no forward")

    def get_extra_state(self) -> dict[str, Any]:
        return {"classes": list(self.classes)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("classes"):
            self._set_classes(state["classes"])
