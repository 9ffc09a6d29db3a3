"""Object detection as set prediction: DETR (Carion et al. 2020) on the shared core.

The image's patches go through the core's encoder; ``n_queries`` learned object queries go through
its decoder, attending to each other without a causal mask and to the encoded patches; a linear
head gives each query a class or "no object", a 3-layer MLP its box. Queries are matched to the
objects one to one (``tasks.matching``) and the set losses (``tasks.set_losses``) train every
decoder layer's predictions.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

from tformer.core import EncoderDecoder
from tformer.data.boxes import image_size
from tformer.data.datasets import INDEX
from tformer.kinds import IMAGE
from tformer.registry import TASKS
from tformer.tokenizers import Batch, BoxesTokenizer, Tokenizer

from .base import Task
from .detection_metrics import average_precision, detections, objects, prior_box_detections
from .long_inputs import AUTO
from .matching import MatchCost, hungarian_match
from .objectives import Objective
from .ranking import gather_split
from .set_losses import BoxGIoU, BoxL1, SetCrossEntropy

__all__ = ["DetectionTask", "BoxHead"]


class BoxHead(nn.Sequential):
    """DETR's box head: a 3-layer MLP (ReLU between) and a sigmoid: (..., d) -> (..., 4) (cx, cy, w, h) in [0, 1]."""

    def __init__(self, d_model: int):
        super().__init__(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, d_model), nn.ReLU(),
                         nn.Linear(d_model, 4), nn.Sigmoid())


@TASKS.register("detection")
class DetectionTask(Task):
    """Image -> a set of labelled boxes (DETR).

    Validation and test log ``map`` (COCO mean average precision over IoU 0.50:0.95) and
    ``map_50`` over the whole split, gathered across DDP processes with each image counted once.

    Args:
        fields: ``source`` (an image tokenizer, ``image_patch``) and ``target`` (``boxes``).
        core: the shared ``EncoderDecoder``; its decoder runs without a causal mask.
        objectives: by default DETR's: ``set_cross_entropy`` (1, no object 0.1), ``box_l1`` (5), ``box_giou`` (2).
        n_queries: object queries, at least the most objects an image holds (DETR: 100 on COCO).
        cost_class, cost_l1, cost_giou: the matching cost's weights (DETR: 1, 5, 2).
        every_layer: train every decoder layer's predictions (DETR's auxiliary losses), not only the last.
        score_threshold: the least score ``predict`` reports by default.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    field_names = ("source", "target")
    input_field = "source"
    outputs = ("class_logits", "boxes", "matches", "n_boxes")

    def __init__(
        self,
        fields: Mapping[str, Tokenizer],
        core: EncoderDecoder,
        objectives: Mapping[str, Objective] | None = None,
        n_queries: int = 20,
        cost_class: float = 1.0,
        cost_l1: float = 5.0,
        cost_giou: float = 2.0,
        every_layer: bool = True,
        score_threshold: float = 0.5,
        optimizer=None,
        scheduler=None,
        predict_batch_size: int = 32,
    ):
        _check_parts(fields, core, n_queries, score_threshold)
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "optimizer", "scheduler"])
        self.cost = MatchCost(cost_class, cost_l1, cost_giou)
        self.every_layer, self.score_threshold = every_layer, score_threshold
        self.queries = nn.Embedding(n_queries, core.d_model)
        self.class_head = nn.Linear(core.d_model, self.target.n_classes + 1)  # the last: "no object"
        self.box_head = BoxHead(core.d_model)
        self._seen: dict[str, dict[str, list[Tensor]]] = {}  # stage -> the split's detections so far

    def default_objectives(self) -> dict[str, Objective]:
        return {"class": SetCrossEntropy(), "l1": BoxL1(), "giou": BoxGIoU()}

    @property
    def source(self) -> Tokenizer:
        return self.fields["source"]

    @property
    def target(self) -> BoxesTokenizer:
        return self.fields["target"]

    def decode(self, values: Tensor, lengths: Tensor, need_weights: bool = False) -> dict[str, Any]:
        """Collated images -> every decoder layer's ``class_logits`` (L, B, Q, C + 1) and ``boxes``
        (L, B, Q, 4); with ``need_weights`` also ``cross_attention``, per layer (B, H, Q, S) over
        the source positions."""
        x, pad_mask = self.source(values, lengths)
        memory = self.core.encoder(x, pad_mask)  # (B, S, d)
        queries = self.queries.weight.unsqueeze(0).expand(x.size(0), -1, -1)  # (B, Q, d)
        decoded = self.core.decoder(queries, memory, pad_mask, causal=False, every_layer=True, need_weights=need_weights)
        states, weights = decoded if need_weights else (decoded, None)  # (L, B, Q, d)
        out = {"class_logits": self.class_head(states), "boxes": self.box_head(states)}
        if need_weights:
            out["cross_attention"] = [cross for _, cross in weights]
        return out

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        out = self.decode(batch["source"].values, batch["source"].lengths)
        layers = slice(None) if self.every_layer else slice(-1, None)
        logits, boxes = out["class_logits"][layers], out["boxes"][layers]
        target = batch["target"].to(logits.device)
        matches = torch.stack([hungarian_match(logits[i], boxes[i], target, self.cost) for i in range(logits.size(0))])
        return {"class_logits": logits, "boxes": boxes, "matches": matches, "n_boxes": self._boxes_per_process(target)}

    def _boxes_per_process(self, target: Batch) -> Tensor:
        """The batch's objects, the mean over DDP processes (DETR's normalization), at least 1."""
        count = target.lengths.sum().float().to(target.values.device)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(count)
            count = count / dist.get_world_size()
        return count.clamp(min=1.0)

    # -- evaluation over the whole split --------------------------------------------------------
    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        height, width = batch["source"].values.shape[-2:]  # pixels of the prepared images
        seen = self._seen.setdefault(stage, {"index": [], "found": [], "truth": [], "counts": []})
        seen["index"].append(batch[INDEX].to(self.device))
        seen["found"].append(detections(outputs["class_logits"][-1], outputs["boxes"][-1], width, height).detach())
        seen["truth"].append(objects(batch["target"], self.queries.num_embeddings, width, height).to(self.device))
        seen["counts"].append(batch["target"].lengths.to(self.device))

    def on_validation_epoch_end(self) -> None:
        self._log_precision("val")

    def on_test_epoch_end(self) -> None:
        self._log_precision("test")

    def _log_precision(self, stage: str) -> None:
        seen = self._seen.pop(stage, None)
        if not seen:
            return
        _, (found, truth, counts) = gather_split(self, torch.cat(seen["index"]),
                                                 [torch.cat(seen[key]) for key in ("found", "truth", "counts")])
        for name, value in average_precision(list(found), [t[:n] for t, n in zip(truth, counts.tolist())]).items():
            self.log(f"{stage}/{name}", value, prog_bar=name == "map")

    # -- prediction ------------------------------------------------------------------------------
    def infer(self, batch: Mapping[str, Batch]) -> list[Tensor]:
        """(Q, 6) rows [x0, y0, x1, y1, score, class] per image, boxes as fractions of the image."""
        out = self.decode(batch["source"].values, batch["source"].lengths)
        return list(detections(out["class_logits"][-1], out["boxes"][-1]).cpu())

    @torch.no_grad()
    def predict(self, inputs: Sequence[Any], chunk_seconds: float | str | None = AUTO,
                score_threshold: float | None = None) -> list[dict[str, list]]:
        """Images (paths, PIL images, arrays) -> per image ``{"boxes": [[x0, y0, x1, y1], ...] in its
        pixels, "labels": [class names], "scores": [...]}``, best first.

        Args:
            inputs: the images.
            chunk_seconds: see ``Task.predict`` (images are never cut).
            score_threshold: report boxes scoring at least this; None: ``task.score_threshold``.
        """
        if isinstance(inputs, (str, bytes)):
            raise TypeError("predict takes a list of inputs; wrap a single input in a list")
        sizes = [image_size(raw) for raw in inputs]
        found = super().predict(inputs, chunk_seconds)
        threshold = self.score_threshold if score_threshold is None else score_threshold
        return [self._described(rows, size, threshold) for rows, size in zip(found, sizes)]

    def _described(self, rows: Tensor, size: tuple[int, int], threshold: float) -> dict[str, list]:
        rows = rows[rows[:, 4] >= threshold]
        rows = rows[rows[:, 4].argsort(descending=True)]
        boxes = rows[:, :4] * torch.tensor([size[0], size[1], size[0], size[1]], dtype=rows.dtype)
        return {"boxes": [[round(v, 2) for v in box] for box in boxes.tolist()],
                "labels": [self.target.classes[int(c)] for c in rows[:, 5]],
                "scores": [round(v, 4) for v in rows[:, 4].tolist()]}

    @torch.no_grad()
    def query_attention(self, raw: Any) -> dict[str, Any]:
        """One image's queries and where they look: the prepared ``image`` (C, H, W), its ``layout``
        (patch grid), each query's ``detections`` (Q, 6) as ``infer`` gives them, ``labels`` (class
        names), and ``attention`` (L, Q, rows, cols), each layer's cross-attention over the patches,
        the mean over heads."""
        prepared = self.source.prepare(raw)
        layout = self.source.image_layout(prepared)
        batch = self.source.collate([prepared]).to(self.device)
        was_training = self.training
        self.eval()
        try:
            out = self.decode(batch.values, batch.lengths, need_weights=True)
        finally:
            self.train(was_training)
        found = detections(out["class_logits"][-1], out["boxes"][-1])[0].cpu()
        heads = torch.stack([w[0].float().mean(0) for w in out["cross_attention"]]).cpu()  # (L, Q, S)
        attention = heads[..., layout.n_prefix :].reshape(*heads.shape[:2], *layout.grid)
        return {"image": prepared.cpu(), "layout": layout, "detections": found, "attention": attention,
                "labels": [self.target.classes[int(c)] for c in found[:, 5]]}

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """The training boxes' mean box in every image, once per class, scored by the class's share."""
        column = data.column_of("target")
        found, truth = prior_box_detections(data.train.column(column), data.test.column(column), self.target.index)
        return "test/map", average_precision(found, truth)["map"], "the mean training box, once per class"


def _check_parts(fields: Mapping[str, Tokenizer], core: Any, n_queries: int, score_threshold: float) -> None:
    source, target = fields.get("source"), fields.get("target")
    if not isinstance(target, BoxesTokenizer):
        raise ValueError(f"detection predicts boxes: its target must be target=boxes, got {type(target).__name__}")
    if source is None or IMAGE not in (source.reads or ()):
        raise ValueError(f"detection finds objects on images: its source must read images (source=image_patch), "
                         f"got {type(source).__name__}")
    if not isinstance(core, EncoderDecoder):
        raise ValueError(f"detection's core must be an EncoderDecoder (tformer.core.EncoderDecoder), "
                         f"got {type(core).__name__}")
    if target.n_classes < 1:
        raise ValueError("detection needs at least one class; the training boxes hold none")
    if n_queries < 1 or not 0 <= score_threshold <= 1:
        raise ValueError(f"task.n_queries must be >= 1 and task.score_threshold in [0, 1], got {n_queries} and "
                         f"{score_threshold}")
