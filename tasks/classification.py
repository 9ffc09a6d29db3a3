"""Sequence to label: image, text or audio classification (keyword spotting)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from tformer.core import Encoder
from tformer.core.dropout import Dropout
from tformer.registry import TASKS
from tformer.tokenizers import Batch, Tokenizer
from tformer.tokenizers.label import LabelTokenizer

from .base import Task, masked_mean
from .objectives import CrossEntropy, Objective

__all__ = ["ClassificationTask"]


@TASKS.register("classification")
class ClassificationTask(Task):
    """Encoder + pooling + linear head over the classes the ``target`` label tokenizer learned.

    Args:
        fields: ``source`` (any modality) and ``target`` (a ``LabelTokenizer``) tokenizers.
        core: the shared ``Encoder``.
        objectives: by default cross entropy without label smoothing.
        pooling: ``"cls"`` (the source's [CLS] token), ``"mean"`` (over real positions) or
            ``"auto"`` (cls when the source has a class token, mean otherwise).
        head_dropout: dropout before the head.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    field_names = ("source", "target")
    input_field = "source"
    outputs = ("logits", "targets")

    def __init__(
        self,
        fields: Mapping[str, Tokenizer],
        core: Encoder,
        objectives: Mapping[str, Objective] | None = None,
        pooling: str = "auto",
        head_dropout: float = 0.0,
        optimizer=None,
        scheduler=None,
        predict_batch_size: int = 64,
    ):
        target = fields.get("target")
        if not isinstance(target, LabelTokenizer):
            raise ValueError(f"classification predicts labels: its target must be target=label, got {type(target).__name__}")
        if pooling not in ("auto", "cls", "mean"):
            raise ValueError(f"task.pooling must be 'auto', 'cls' or 'mean', got {pooling!r}")
        has_cls = getattr(fields["source"], "cls_token", None) is not None
        if pooling == "cls" and not has_cls:
            raise ValueError(f"task.pooling='cls' needs a source with a class token; {type(fields['source']).__name__} "
                             "has none: use 'mean'")
        if target.n_classes < 2:
            raise ValueError(f"classification needs at least 2 classes, the training labels hold {target.n_classes}")
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "optimizer", "scheduler"])
        self.use_cls = pooling == "cls" or (pooling == "auto" and has_cls)
        self.head = nn.Sequential(Dropout(head_dropout), nn.Linear(core.d_model, target.n_classes))
        n = target.n_classes
        self.metrics = nn.ModuleDict({
            f"{stage}_{name}": metric
            for stage in ("val", "test")
            for name, metric in (("acc", MulticlassAccuracy(n, average="micro")), ("f1", MulticlassF1Score(n, average="macro")))
        })

    def default_objectives(self) -> dict[str, Objective]:
        return {"cross_entropy": CrossEntropy()}

    @property
    def source(self) -> Tokenizer:
        return self.fields["source"]

    @property
    def target(self) -> LabelTokenizer:
        return self.fields["target"]

    def logits(self, values: Tensor, lengths: Tensor) -> Tensor:
        """Prepared, collated inputs -> (B, n_classes) logits."""
        x, pad_mask = self.source(values, lengths)
        h = self.core(x, pad_mask)  # (B, T, d)
        pooled = h[:, 0] if self.use_cls else masked_mean(h, pad_mask)
        return self.head(pooled)

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        logits = self.logits(batch["source"].values, batch["source"].lengths)
        return {"logits": logits, "targets": batch["target"].values.view(-1).to(logits.device)}

    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        for name in ("acc", "f1"):
            metric = self.metrics[f"{stage}_{name}"]
            metric.update(outputs["logits"], outputs["targets"])
            self.log(f"{stage}/{name}", metric, prog_bar=name == "acc", batch_size=outputs["targets"].numel())

    def infer(self, batch: Mapping[str, Batch]) -> list[str]:
        predictions = self.logits(batch["source"].values, batch["source"].lengths).argmax(-1)
        return [self.target.decode(int(i)) for i in predictions]

    @torch.no_grad()
    def predict_proba(self, inputs: list[Any]) -> Tensor:
        """Class probabilities (N, n_classes) for raw inputs, in order (columns: ``target.classes``)."""
        self.eval()
        batch = self.source.collate([self.source.prepare(x) for x in inputs]).to(self.device)
        return self.logits(batch.values, batch.lengths).softmax(-1)

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """Always the most frequent training label."""
        column = data.column_of("target")
        labels = [str(t) for t in data.test.column(column)]
        common, _ = Counter(str(t) for t in data.train.column(column)).most_common(1)[0]
        accuracy = sum(label == common for label in labels) / len(labels)
        return "test/acc", accuracy, f"always the most frequent training label ({common!r})"
