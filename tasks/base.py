"""What every task shares: tokenizers, optimizer and schedule, one step for all stages, predict."""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Sequence

import lightning as L
import torch
from torch import Tensor, nn

from tformer.checkpoint import KEY as checkpoint_key
from tformer.checkpoint import describe
from tformer.tokenizers import Batch, Tokenizer

__all__ = ["Task"]


class Task(L.LightningModule):
    """Base of the task modules: a source tokenizer, a target tokenizer and a core.

    Subclasses implement ``loss(source, target) -> (loss, outputs)``, ``update_metrics`` and
    ``infer(source) -> list`` (decoded strings or labels).

    Args:
        source: the input-side modality plug-in.
        target: the output-side tokenizer (text or label).
        optimizer: a partial taking the parameters (Hydra ``_partial_: true``).
        scheduler: a partial taking the optimizer, stepped every update; ``None`` for none.
        predict_batch_size: items per batch in ``predict``.
    """

    def __init__(
        self,
        source: Tokenizer,
        target: Tokenizer,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        predict_batch_size: int = 32,
    ):
        super().__init__()
        self.source, self.target = source, target
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.predict_batch_size = predict_batch_size
        self.skipped_batches = 0

    # -- training -----------------------------------------------------------------------------
    def configure_optimizers(self):
        if self.optimizer_factory is None:
            raise ValueError("task.optimizer is not set: give an optimizer partial (see conf/task/*.yaml)")
        optimizer = _checked(self.optimizer_factory, "task.optimizer")(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        factory = _checked(self.scheduler_factory, "task.scheduler")
        if "total_steps" in inspect.signature(factory).parameters and factory.keywords.get("total_steps") is None:
            factory = functools.partial(factory, total_steps=self._planned_updates())
        scheduler = factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _planned_updates(self) -> int | None:
        """The trainer's ``max_steps``, or ``max_epochs`` x batches per epoch; None without either."""
        planned = self.trainer.estimated_stepping_batches
        return None if planned == float("inf") else int(planned)

    def training_step(self, batch: tuple[Batch, Batch], batch_idx: int) -> Tensor | None:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: tuple[Batch, Batch], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Batch, Batch], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def _shared_step(self, batch: tuple[Batch, Batch], stage: str) -> Tensor | None:
        source, target = batch
        loss, outputs = self.loss(source, target)
        size = self.loss_weight(target)
        if stage == "train" and not self._finite_everywhere(loss):
            self.skipped_batches += 1
            self.log("train/skipped_batches", float(self.skipped_batches), batch_size=size)
            return None  # Lightning skips the update; every rank agrees, so none waits
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size, sync_dist=stage != "train")
        if stage != "train":
            self.update_metrics(stage, source, target, outputs)
        return loss

    def _finite_everywhere(self, loss: Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).float()
        if self.trainer is not None and self.trainer.world_size > 1:
            finite = self.trainer.strategy.reduce(finite, reduce_op="min")
        return bool(finite > 0)

    # -- subclass hooks --------------------------------------------------------------------------
    def loss_weight(self, target: Batch) -> int:
        """What the loss averages over (items; tokens for text), so epoch means are exact."""
        return int(target.values.size(0))

    def loss(self, source: Batch, target: Batch) -> tuple[Tensor, Any]:
        raise NotImplementedError

    def update_metrics(self, stage: str, source: Batch, target: Batch, outputs: Any) -> None:
        raise NotImplementedError

    def infer(self, source: Batch) -> list[Any]:
        raise NotImplementedError

    # -- prediction ------------------------------------------------------------------------------
    empty_result: Any = None  # what an empty input predicts; None: an empty input is an error

    @torch.no_grad()
    def predict(self, inputs: Sequence[Any]) -> list[Any]:
        """Raw inputs (strings, image or audio paths, arrays) -> decoded outputs, in order."""
        if isinstance(inputs, (str, bytes)):
            raise TypeError("predict takes a list of inputs; wrap a single input in a list")
        was_training = self.training
        self.eval()
        results: list[Any] = [None] * len(inputs)
        prepared = {}
        for i, item in enumerate(inputs):
            tensor = self.source.prepare(item)
            if self.source.size(tensor) > 0:
                prepared[i] = tensor
            elif self.empty_result is None:
                raise ValueError(f"input {i} is empty; {type(self).__name__} cannot predict from nothing")
            else:
                results[i] = self.empty_result
        order = sorted(prepared, key=lambda i: self.source.size(prepared[i]))
        for start in range(0, len(order), self.predict_batch_size):
            chunk = order[start : start + self.predict_batch_size]
            batch = self.source.collate([prepared[i] for i in chunk]).to(self.device)
            for i, output in zip(chunk, self.infer(batch)):
                results[i] = output
        self.train(was_training)
        return results

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[checkpoint_key] = describe(self)


def _checked(factory: Callable, key: str) -> Callable:
    """``factory`` (a partial from the config) if its keywords are arguments of what it calls;
    otherwise an error naming the config key, the stray argument and the accepted ones."""
    if not isinstance(factory, functools.partial):
        return factory
    parameters = inspect.signature(factory.func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return factory
    accepted = [name for name in parameters if name not in ("self", "params", "optimizer")]
    for name in factory.keywords:
        if name not in parameters:
            close = difflib.get_close_matches(name, accepted, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{key}.{name} is not an argument of {getattr(factory.func, '__name__', factory.func)}.{hint} "
                             f"Its arguments: {', '.join(accepted)} (remove it with ~{key}.{name})")
    return factory


def masked_mean(x: Tensor, pad_mask: Tensor) -> Tensor:
    """(B, T, d), (B, T) -> (B, d): the mean over real positions."""
    keep = (~pad_mask).unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(1) / keep.sum(1).clamp(min=1)
