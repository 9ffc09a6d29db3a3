"""DETR's set losses (Carion et al. 2020, section 3.1 and appendix A.2), as objectives: each reads
the predictions of every decoder layer (``class_logits`` (L, B, Q, C + 1), ``boxes`` (L, B, Q, 4)),
the queries matched to the objects (``matches`` (L, K, 3) rows [image, query, object]) and the
number of objects (``n_boxes``, the mean over processes), and sums its loss over the layers,
the auxiliary losses of the layers before the last included."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import generalized_box_iou_loss

from tformer.registry import OBJECTIVES
from tformer.tokenizers import Batch

from .matching import xyxy
from .objectives import Objective

__all__ = ["SetCrossEntropy", "BoxL1", "BoxGIoU"]

READS = ("class_logits", "boxes", "matches", "n_boxes")


class _SetObjective(Objective):
    """What the three losses share: the field of the objects and the pairs of matched boxes."""

    reads = READS

    def __init__(self, weight: float = 1.0, field: str = "target"):
        super().__init__(weight)
        self.field = field

    def bind(self, task: Any) -> None:
        if self.field not in task.fields:
            raise ValueError(f"task.objectives.*.field={self.field!r} is not a field of the task; its fields: "
                             f"{', '.join(task.fields)}")

    def matched_boxes(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch], layer: int) -> tuple[Tensor, Tensor]:
        """(K, 4) predicted and (K, 4) target boxes (cx, cy, w, h) of the matched pairs of ``layer``."""
        image, query, obj = outputs["matches"][layer].unbind(1)
        targets = batch[self.field].values.to(image.device)
        return outputs["boxes"][layer, image, query].float(), targets[image, obj, 1:].float()

    def summed_over_layers(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch],
                           pair_loss: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        """``pair_loss(predicted, target)`` of every layer's matched boxes, summed, over ``n_boxes``."""
        total = outputs["boxes"].new_zeros((), dtype=torch.float32)
        for layer in range(outputs["boxes"].size(0)):
            total = total + pair_loss(*self.matched_boxes(outputs, batch, layer))
        return total / outputs["n_boxes"]


@OBJECTIVES.register("set_cross_entropy")
class SetCrossEntropy(_SetObjective):
    """Cross entropy of every query's class: a matched query's object's class, "no object" for the
    rest, which weighs ``no_object_weight`` (DETR's eos_coef 0.1); the weighted mean over queries
    (as DETR's, not over objects), summed over layers.

    Args:
        weight: its share of the task's loss (DETR: 1).
        no_object_weight: the weight of "no object" against a class.
        field: the ``boxes`` field.
    """

    def __init__(self, weight: float = 1.0, no_object_weight: float = 0.1, field: str = "target"):
        super().__init__(weight, field)
        if not 0 < no_object_weight <= 1:
            raise ValueError(f"task.objectives.*.no_object_weight must be in (0, 1], got {no_object_weight}")
        self.no_object_weight = no_object_weight

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        logits = outputs["class_logits"].float()  # (L, B, Q, C + 1)
        no_object = logits.size(-1) - 1
        weights = torch.ones(no_object + 1, device=logits.device)
        weights[no_object] = self.no_object_weight
        targets = batch[self.field].values.to(logits.device)
        total = logits.new_zeros(())
        for layer in range(logits.size(0)):
            image, query, obj = outputs["matches"][layer].unbind(1)
            classes = torch.full(logits.shape[1:3], no_object, dtype=torch.long, device=logits.device)  # (B, Q)
            classes[image, query] = targets[image, obj, 0].long()
            total = total + F.cross_entropy(logits[layer].flatten(0, 1), classes.flatten(), weight=weights)
        return total


@OBJECTIVES.register("box_l1")
class BoxL1(_SetObjective):
    """L1 distance of matched boxes (cx, cy, w, h), summed over pairs and layers, over ``n_boxes``.

    Args:
        weight: its share of the task's loss (DETR: 5).
        field: the ``boxes`` field.
    """

    def __init__(self, weight: float = 5.0, field: str = "target"):
        super().__init__(weight, field)

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        return self.summed_over_layers(outputs, batch, lambda predicted, target: (predicted - target).abs().sum())


@OBJECTIVES.register("box_giou")
class BoxGIoU(_SetObjective):
    """1 - generalized IoU (Rezatofighi et al. 2019) of matched boxes, summed over pairs and layers,
    over ``n_boxes``.

    Args:
        weight: its share of the task's loss (DETR: 2).
        field: the ``boxes`` field.
    """

    def __init__(self, weight: float = 2.0, field: str = "target"):
        super().__init__(weight, field)

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        return self.summed_over_layers(outputs, batch, lambda predicted, target: generalized_box_iou_loss(
            xyxy(predicted), xyxy(target), reduction="sum"))
