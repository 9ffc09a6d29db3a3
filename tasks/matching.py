"""Bipartite matching of predicted boxes to an image's objects (DETR, Carion et al. 2020, section 3.1).

Each object is assigned the query whose prediction costs least, one query per object, by the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on
``cost = -p(class) * w_class + L1(box) * w_l1 - GIoU(box) * w_giou``; queries left over predict
"no object". Boxes are (cx, cy, w, h) fractions of the image, as the ``boxes`` tokenizer makes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchvision.ops import box_convert, generalized_box_iou

from tformer.tokenizers import Batch

__all__ = ["MatchCost", "xyxy", "match_cost", "hungarian_match", "objects_of"]


def xyxy(boxes: Tensor) -> Tensor:
    """(..., 4) boxes (cx, cy, w, h) -> (x0, y0, x1, y1)."""
    return box_convert(boxes, "cxcywh", "xyxy")


def objects_of(target: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """A ``boxes`` field's batch -> the (K,) image of each real object, its (K,) class and its (K, 4) box,
    objects in image order."""
    values, lengths = target.values, target.lengths.to(target.values.device)
    real = torch.arange(values.size(1), device=values.device)[None, :] < lengths[:, None]  # (B, M)
    image = real.nonzero()[:, 0]
    return image, values[..., 0][real].long(), values[..., 1:][real].float()


@dataclass(frozen=True)
class MatchCost:
    """The weights of the matching cost (DETR's: class 1, L1 5, GIoU 2)."""

    w_class: float = 1.0
    w_l1: float = 5.0
    w_giou: float = 2.0


@torch.no_grad()
def match_cost(logits: Tensor, boxes: Tensor, classes: Tensor, targets: Tensor, weights: MatchCost) -> Tensor:
    """The cost of predicting each of M objects with each of Q queries.

    Args:
        logits: (Q, C + 1) class logits, the last "no object".
        boxes: (Q, 4) predicted (cx, cy, w, h).
        classes: (M,) the objects' classes.
        targets: (M, 4) the objects' (cx, cy, w, h).
        weights: the cost's weights.
    Returns:
        (Q, M) costs.
    """
    probabilities = logits.float().softmax(-1)[:, classes]  # (Q, M)
    l1 = torch.cdist(boxes.float(), targets.float(), p=1)
    giou = generalized_box_iou(xyxy(boxes.float()), xyxy(targets.float()))
    return -weights.w_class * probabilities + weights.w_l1 * l1 - weights.w_giou * giou


@torch.no_grad()
def hungarian_match(logits: Tensor, boxes: Tensor, target: Batch, weights: MatchCost) -> Tensor:
    """The least-cost assignment of queries to objects in every image of a batch.

    Args:
        logits: (B, Q, C + 1) class logits.
        boxes: (B, Q, 4) predicted boxes.
        target: the ``boxes`` field's batch: values (B, M, 5) rows [class, cx, cy, w, h], lengths (B,).
        weights: the cost's weights.
    Returns:
        (K, 3) int64 rows [image, query, object] for the K objects of the batch (object: its row
        in the image's target), in image order.
    """
    queries, lengths = logits.size(1), target.lengths.tolist()
    if lengths and max(lengths) > queries:
        raise ValueError(f"an image holds {max(lengths)} objects, more than the {queries} object queries that "
                         f"predict them; raise task.n_queries above the most objects an image holds")
    image, classes, targets = objects_of(target)
    cost = match_cost(logits.flatten(0, 1), boxes.flatten(0, 1), classes, targets, weights)  # (B*Q, K)
    # A diverged prediction (NaN) still gets matched; its loss is NaN, and the task skips the batch.
    cost = torch.nan_to_num(cost.view(logits.size(0), queries, -1).cpu(), nan=1e6, posinf=1e6, neginf=-1e6)
    rows = []
    for b, block in enumerate(cost.split(lengths, dim=-1)):
        query, obj = linear_sum_assignment(block[b].numpy())
        order = obj.argsort()
        rows.append(torch.stack([torch.full((len(obj),), b), torch.as_tensor(query[order]), torch.as_tensor(obj[order])], 1))
    matched = torch.cat(rows) if rows else torch.zeros(0, 3)
    return matched.long().to(logits.device)
