"""Sequence to label: image, text or audio classification (keyword spotting)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from tformer.core import Encoder
from tformer.registry import TASKS
from tformer.tokenizers import Batch, Tokenizer
from tformer.tokenizers.label import LabelTokenizer

from .base import Task, masked_mean
from .translation import _check_widths

__all__ = ["ClassificationTask"]


@TASKS.register("classification")
class ClassificationTask(Task):
    """Encoder + pooling + linear head over the classes the ``label`` target learned.

    Args:
        source, target, optimizer, scheduler, predict_batch_size: see ``Task``.
        core: the shared ``Encoder``.
        pooling: ``"cls"`` (the source's [CLS] token), ``"mean"`` (over real positions) or
            ``"auto"`` (cls when the source has a class token, mean otherwise).
        label_smoothing: cross-entropy label smoothing.
        head_dropout: dropout before the head.
    """

    def __init__(
        self,
        source: Tokenizer,
        target: LabelTokenizer,
        core: Encoder,
        optimizer=None,
        scheduler=None,
        pooling: str = "auto",
        label_smoothing: float = 0.0,
        head_dropout: float = 0.0,
        predict_batch_size: int = 64,
    ):
        super().__init__(source, target, optimizer, scheduler, predict_batch_size)
        if pooling not in ("auto", "cls", "mean"):
            raise ValueError(f"task.pooling must be 'auto', 'cls' or 'mean', got {pooling!r}")
        has_cls = getattr(source, "cls_token", None) is not None
        if pooling == "cls" and not has_cls:
            raise ValueError(f"task.pooling='cls' needs a source with a class token; {type(source).__name__} has none: use 'mean'")
        if target.n_classes < 2:
            raise ValueError(f"classification needs at least 2 classes, the training labels hold {target.n_classes}")
        _check_widths(source, target, core)
        self.core = core
        self.save_hyperparameters(ignore=["source", "target", "core", "optimizer", "scheduler"])
        self.use_cls = pooling == "cls" or (pooling == "auto" and has_cls)
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(core.d_model, target.n_classes))
        n = target.n_classes
        self.metrics = nn.ModuleDict({
            f"{stage}_{name}": metric
            for stage in ("val", "test")
            for name, metric in (("acc", MulticlassAccuracy(n, average="micro")), ("f1", MulticlassF1Score(n, average="macro")))
        })

    def forward(self, values: Tensor, lengths: Tensor) -> Tensor:
        """Prepared, collated inputs -> (B, n_classes) logits."""
        x, pad_mask = self.source(values, lengths)
        h = self.core(x, pad_mask)  # (B, T, d)
        pooled = h[:, 0] if self.use_cls else masked_mean(h, pad_mask)
        return self.head(pooled)

    def loss(self, source: Batch, target: Batch) -> tuple[Tensor, Any]:
        logits = self(source.values, source.lengths)
        labels = target.values.view(-1).to(logits.device)
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.hparams.label_smoothing), logits

    def update_metrics(self, stage: str, source: Batch, target: Batch, logits: Any) -> None:
        labels = target.values.view(-1).to(logits.device)
        for name in ("acc", "f1"):
            metric = self.metrics[f"{stage}_{name}"]
            metric.update(logits, labels)
            self.log(f"{stage}/{name}", metric, prog_bar=name == "acc", batch_size=labels.numel())

    def infer(self, source: Batch) -> list[str]:
        predictions = self(source.values, source.lengths).argmax(-1)
        return [self.target.decode(int(i)) for i in predictions]

    @torch.no_grad()
    def predict_proba(self, inputs: list[Any]) -> Tensor:
        """Class probabilities (N, n_classes) for raw inputs, in order (columns: ``target.classes``)."""
        self.eval()
        batch = self.source.collate([self.source.prepare(x) for x in inputs]).to(self.device)
        return self(batch.values, batch.lengths).softmax(-1)
