"""Detection scores: DETR's detections from the last layer's queries, COCO mean average precision
over a whole split (torchmetrics' ``MeanAveragePrecision``), and the prior-box baseline."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor
from torchmetrics.detection import MeanAveragePrecision

from tformer.tokenizers import Batch

from .matching import xyxy

__all__ = ["detections", "objects", "average_precision", "prior_box_detections", "truth_rows"]


def detections(class_logits: Tensor, boxes: Tensor, width: float = 1.0, height: float = 1.0) -> Tensor:
    """Every query's detection, DETR's post-processing: the likeliest real class and its probability,
    and the box clipped to the image (a centre and size in [0, 1] can reach past its edges).

    Args:
        class_logits: (B, Q, C + 1) logits, the last "no object".
        boxes: (B, Q, 4) boxes (cx, cy, w, h), fractions of the image.
        width, height: the image's size the boxes are scaled to.
    Returns:
        (B, Q, 6) rows [x0, y0, x1, y1, score, class].
    """
    scores, classes = class_logits.float().softmax(-1)[..., :-1].max(-1)
    corners = xyxy(boxes.float()).clamp(0.0, 1.0) * boxes.new_tensor([width, height, width, height]).float()
    return torch.cat([corners, scores[..., None], classes[..., None].float()], dim=-1)


def objects(target: Batch, slots: int, width: float = 1.0, height: float = 1.0) -> Tensor:
    """A ``boxes`` field's batch as (B, slots, 5) rows [x0, y0, x1, y1, class], padded with zeros past its lengths."""
    values = target.values.float()
    rows = values.new_zeros(values.size(0), slots, 5)
    count = min(slots, values.size(1))
    scale = values.new_tensor([width, height, width, height])
    rows[:, :count, :4] = xyxy(values[:, :count, 1:]) * scale
    rows[:, :count, 4] = values[:, :count, 0]
    return rows


def average_precision(found: Sequence[Tensor], truth: Sequence[Tensor]) -> dict[str, float]:
    """COCO mAP (IoU 0.50:0.95) and mAP@50 of a split's detections, in one process.

    Args:
        found: per image, (q, 6) detections [x0, y0, x1, y1, score, class] (``detections``).
        truth: per image, (m, 5) objects [x0, y0, x1, y1, class] (``objects``, cut to their counts).
    Returns:
        ``{"map": ..., "map_50": ...}``.
    """
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", sync_on_compute=False)
    predictions = [{"boxes": f[:, :4].float().cpu(), "scores": f[:, 4].float().cpu(), "labels": f[:, 5].long().cpu()}
                   for f in found]
    targets = [{"boxes": t[:, :4].float().cpu(), "labels": t[:, 4].long().cpu()} for t in truth]
    metric.update(predictions, targets)
    result = metric.compute()
    return {"map": float(result["map"]), "map_50": float(result["map_50"])}


def prior_box_detections(train: Sequence[Mapping[str, Any]], test: Sequence[Mapping[str, Any]],
                         index: Mapping[str, int]) -> tuple[list[Tensor], list[Tensor]]:
    """The prior-box baseline: in every test image, the training boxes' mean box (as fractions of
    the image) once per class, scored by the class's share of the training boxes.

    Args:
        train, test: raw ``boxes`` items (``{"boxes", "labels", "width", "height"}``).
        index: class name -> class number.
    Returns:
        ``average_precision``'s found and truth for ``test``.
    """
    fractions = [[(x0 + x1) / 2 / item["width"], (y0 + y1) / 2 / item["height"], (x1 - x0) / item["width"],
                  (y1 - y0) / item["height"]] for item in train for x0, y0, x1, y1 in item["boxes"]]
    mean = torch.tensor(fractions).mean(0) if fractions else torch.tensor([0.5, 0.5, 1.0, 1.0])
    shares = Counter(str(label) for item in train for label in item["labels"])
    total = max(sum(shares.values()), 1)
    classes = sorted(shares, key=lambda name: index[name])
    found, truth = [], []
    for item in test:
        size = torch.tensor([item["width"], item["height"]] * 2, dtype=torch.float32)
        found.append(torch.stack([torch.cat([xyxy(mean) * size, torch.tensor([shares[name] / total, index[name]])])
                                  for name in classes]) if classes else torch.zeros(0, 6))
        truth.append(truth_rows(item, index))
    return found, truth


def truth_rows(item: Mapping[str, Any], index: Mapping[str, int]) -> Tensor:
    """A raw ``boxes`` item -> (m, 5) rows [x0, y0, x1, y1, class] in its pixels."""
    rows = [[*box, index[str(label)]] for box, label in zip(item["boxes"], item["labels"])]
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 5)
