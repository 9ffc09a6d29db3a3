"""What every task shares: named fields with their tokenizers, a core, objectives that make its
loss, optimizer and schedule, one step for all stages, predict."""

from __future__ import annotations

import functools
import inspect
from os import PathLike
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import lightning as L
import torch
from torch import Tensor, nn

from tformer.checkpoint import KEY as checkpoint_key
from tformer.checkpoint import describe
from tformer.flops import flop_parameters, token_counts, training_flops
from tformer.registry import stray_argument_message, stray_names
from tformer.tokenizers import Batch, Tokenizer

from .long_inputs import AUTO, check_positions, chunk_length, predict_in_chunks
from .objectives import Objective
from .optimizers import clip_fused, scales_and_clips, with_implementation

__all__ = ["Task", "masked_mean"]


class Task(L.LightningModule):
    """Base of the task modules: named fields, each with its tokenizer, a core, and objectives.

    A subclass declares the fields it reads (``field_names``), the one ``predict`` takes
    (``input_field``) and the named outputs its ``forward(batch)`` returns (``outputs``), which
    the objectives read; it implements ``forward``, ``update_metrics``, ``infer(batch) -> list``
    (decoded strings or labels) and ``trivial_baseline``.

    Args:
        fields: field name -> tokenizer (one tokenizer may serve several fields).
        core: the shared Transformer stack.
        objectives: name -> objective, weighted into the loss; None: ``default_objectives()``.
        optimizer: a partial taking the parameters (Hydra ``_partial_: true``).
        scheduler: a partial taking the optimizer, stepped every update; ``None`` for none.
        predict_batch_size: items per batch in ``predict``.
    """

    field_names: tuple[str, ...] = ()
    input_field: str = "source"
    token_fields: tuple[str, ...] = ()  # fields of tokens (not labels) for throughput; empty: the input field
    outputs: tuple[str, ...] = ()
    generator: Any = None  # what decodes outputs, for tasks that generate (tformer.tasks.generators)

    def __init__(
        self,
        fields: Mapping[str, Tokenizer],
        core: nn.Module,
        objectives: Mapping[str, Objective] | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        predict_batch_size: int = 32,
    ):
        super().__init__()
        missing = [name for name in self.field_names if name not in fields]
        if missing:
            raise ValueError(f"{type(self).__name__} reads the field(s) {', '.join(self.field_names)}; task.fields "
                             f"lacks {', '.join(missing)} (it has: {', '.join(fields) or 'none'})")
        _check_widths(fields, core)
        self.fields, self.core = nn.ModuleDict(fields), core
        self.objectives = nn.ModuleDict(self.default_objectives() if objectives is None else objectives)
        for name, objective in self.objectives.items():
            self._check_reads(name, objective)
            objective.bind(self)
        # what the weighted objectives read: forward may leave the rest out (a chunked cross entropy needs no
        # whole logits; a cross entropy of weight 0 none)
        self.read_outputs = frozenset(output for objective in self.objectives.values() if objective.weight > 0
                                      for output in objective.reads)
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.predict_batch_size = predict_batch_size
        self.skipped_batches = 0
        self._flop_counts: dict[tuple[int, ...], int] = {}  # see count_parameters

    def default_objectives(self) -> dict[str, Objective]:
        """The objectives a task built without ``objectives`` trains with."""
        raise NotImplementedError

    def _check_reads(self, name: str, objective: Objective) -> None:
        unknown = [output for output in objective.reads if output not in self.outputs]
        if unknown:
            raise ValueError(f"task.objectives.{name} ({type(objective).__name__}) reads {', '.join(unknown)}, which "
                             f"{type(self).__name__} does not give; it gives: {', '.join(self.outputs)}")

    # -- training -----------------------------------------------------------------------------
    def configure_optimizers(self):
        if self.optimizer_factory is None:
            raise ValueError("task.optimizer is not set: give an optimizer partial (see conf/task/*.yaml)")
        factory = _checked(self.optimizer_factory, "task.optimizer")
        factory = with_implementation(factory, self.device, fused=not scales_and_clips(self.trainer))
        optimizer = factory(self.parameters())  # fused or foreach Adam for the device the module is on now
        if self.scheduler_factory is None:
            return optimizer
        factory = _checked(self.scheduler_factory, "task.scheduler")
        if "total_steps" in inspect.signature(factory).parameters and factory.keywords.get("total_steps") is None:
            factory = functools.partial(factory, total_steps=self._planned_updates())
        scheduler = factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        if not clip_fused(self.trainer, optimizer, gradient_clip_val, gradient_clip_algorithm):  # bf16 + fused
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def _planned_updates(self) -> int | None:
        """The trainer's ``max_steps``, or ``max_epochs`` x batches per epoch; None without either."""
        planned = self.trainer.estimated_stepping_batches
        return None if planned == float("inf") else int(planned)

    def training_step(self, batch: dict[str, Batch], batch_idx: int) -> Tensor | None:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: dict[str, Batch], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: dict[str, Batch], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def loss(self, batch: Mapping[str, Batch]) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """The weighted sum of the objectives, each objective's loss, and the outputs they read."""
        outputs = self(batch)
        losses = {name: objective(outputs, batch) for name, objective in self.objectives.items() if objective.weight > 0}
        total = sum(self.objectives[name].weight * value for name, value in losses.items())
        return total, losses, outputs

    def _shared_step(self, batch: dict[str, Batch], stage: str) -> Tensor | None:
        loss, losses, outputs = self.loss(batch)
        size = self.loss_weight(batch)
        if stage == "train" and not self._finite_everywhere(loss):
            self.skipped_batches += 1
            self.log("train/skipped_batches", float(self.skipped_batches), batch_size=size)
            return None  # Lightning skips the update; every rank agrees, so none waits
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size, sync_dist=stage != "train")
        if len(losses) > 1:  # each objective's part, e.g. val/loss_ctc
            for name, value in losses.items():
                self.log(f"{stage}/loss_{name}", value, batch_size=size, sync_dist=stage != "train")
        if stage != "train":
            self.update_metrics(stage, batch, outputs)
        return loss

    def _finite_everywhere(self, loss: Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).float()
        if self.trainer is not None and self.trainer.world_size > 1:
            finite = self.trainer.strategy.reduce(finite, reduce_op="min")
        return bool(finite > 0)

    # -- what subclasses say -----------------------------------------------------------------------
    def loss_weight(self, batch: Mapping[str, Batch]) -> int:
        """What the loss averages over (items; tokens for text), so epoch means are exact."""
        return int(batch[self.input_field].values.size(0))

    def token_counts(self, batch: Mapping[str, Batch]) -> tuple[Tensor, Tensor]:
        """Real and padded tokens of the token fields (``token_fields``), as their lengths say."""
        return token_counts(batch, self.token_fields or (self.input_field,))

    def flops(self, batch: Mapping[str, Batch]) -> Tensor | int:
        """Model FLOPs of one training update on ``batch`` (forward and backward, 6 N D: ``tformer.flops``).

        By default each token field's tokenizer counts for its own positions and every other
        parameter (core, heads) for the positions of all token fields together, as an encoder's
        do (a pooled head acts on fewer; it is small); a task whose parts read different fields
        (an encoder and a decoder) says so.
        """
        fields = self.token_fields or (self.input_field,)
        lengths = {name: batch[name].lengths for name in fields}
        positions = sum(self.fields[name].output_lengths(n).sum() for name, n in lengths.items())
        rest = self.count_parameters(*(module for name, module in self.named_children() if name != "fields"))
        return sum(self.fields[name].front_end_flops(n) for name, n in lengths.items()) + training_flops((rest, positions))

    def count_parameters(self, *modules: nn.Module) -> int:
        """``tformer.flops.flop_parameters(*modules)``, counted once per training run: counting
        walks every module, too slow for each update (parameters frozen during a run stay counted)."""
        key = tuple(id(module) for module in modules)
        if key not in self._flop_counts:
            self._flop_counts[key] = flop_parameters(*modules)
        return self._flop_counts[key]

    def on_train_start(self) -> None:
        self._flop_counts.clear()  # parameters frozen or unfrozen before training count as they are now

    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        raise NotImplementedError

    def infer(self, batch: Mapping[str, Batch]) -> list[Any]:
        raise NotImplementedError

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """``(metric key, value, what the baseline does)`` on the test split, for the report; None if none.

        Args:
            data: the ``DataModule`` (its ``train`` and ``test`` splits; ``column_of`` names the
                data field a task field reads).
        """
        return None

    def example_input(self, raw: Any) -> Any:
        """What the end-of-run report gives ``predict`` to show what the task does with ``raw``,
        a test item's input field (the item itself; a language model takes its first words)."""
        return raw

    # -- prediction ------------------------------------------------------------------------------
    empty_result: Any = None  # what an empty input predicts; None: an empty input is an error

    piece_separator: str | None = None  # what joins the outputs of a long input's chunks; None: they do not join

    @torch.no_grad()
    def predict(self, inputs: Sequence[Any], chunk_seconds: float | str | None = AUTO) -> list[Any]:
        """Raw inputs of the input field (strings, image or audio paths, arrays) -> decoded
        outputs, in order.

        Args:
            inputs: raw inputs.
            chunk_seconds: cut long inputs (recordings) into chunks of at most this many seconds,
                read one at a time, and join their outputs; ``"auto"``: the input tokenizer's
                ``chunk_seconds`` where this task's outputs join (``piece_separator``); None: never.
                An input longer than the model's positions is refused before the forward pass.
        Returns:
            One output per input.
        """
        if isinstance(inputs, (str, bytes)):
            raise TypeError("predict takes a list of inputs; wrap a single input in a list")
        seconds = chunk_length(self, chunk_seconds)
        was_training = self.training
        self.eval()
        try:
            if seconds is not None:
                return predict_in_chunks(self, inputs, seconds)
            return self._predict_whole(inputs)
        finally:
            self.train(was_training)

    def _predict_whole(self, inputs: Sequence[Any]) -> list[Any]:
        """Predict whole inputs, batched by length (see ``predict``)."""
        tokenizer = self.fields[self.input_field]
        results: list[Any] = [None] * len(inputs)
        prepared = {}
        for i, item in enumerate(inputs):
            tensor = tokenizer.prepare(item)
            if tokenizer.size(tensor) > 0:
                check_positions(self, tensor, f"input {i} ({str(item)[:60]})" if isinstance(item, (str, PathLike))
                                else f"input {i}", chunked=False)
                prepared[i] = tensor
            elif self.empty_result is None:
                raise ValueError(f"input {i} is empty; {type(self).__name__} cannot predict from nothing")
            else:
                results[i] = self.empty_result
        order = sorted(prepared, key=lambda i: tokenizer.size(prepared[i]))
        for start in range(0, len(order), self.predict_batch_size):
            chunk = order[start : start + self.predict_batch_size]
            batch = {self.input_field: tokenizer.collate([prepared[i] for i in chunk]).to(self.device)}
            for i, output in zip(chunk, self.infer(batch)):
                results[i] = output
        return results

    def written_prediction(self, prediction: Any, index: int, output: Path) -> Any:
        """What ``tformer-predict`` writes into the JSON-lines file ``output`` for prediction
        number ``index``: the prediction itself (text, a label) by default; a task that predicts
        media writes a file beside ``output`` and gives its path."""
        return prediction

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[checkpoint_key] = describe(self)


def _check_widths(fields: Mapping[str, Tokenizer], core: nn.Module) -> None:
    width = getattr(core, "d_model", None)
    for name, tokenizer in fields.items():
        if getattr(tokenizer, "d_model", None) not in (None, width):
            raise ValueError(f"the {name} tokenizer's d_model ({tokenizer.d_model}) differs from the model's d_model ({width})")


def _checked(factory: Callable, key: str) -> Callable:
    """``factory`` (a partial from the config) if its keywords are arguments of what it calls;
    otherwise an error naming the config key, the stray argument and the accepted ones."""
    if not isinstance(factory, functools.partial):
        return factory
    stray = stray_names(factory.keywords, factory.func)
    if stray:
        raise ValueError(stray_argument_message(key, stray, factory.func, skip=("self", "params", "optimizer")))
    return factory


def masked_mean(x: Tensor, pad_mask: Tensor) -> Tensor:
    """(B, T, d), (B, T) -> (B, d): the mean over real positions."""
    keep = (~pad_mask).unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(1) / keep.sum(1).clamp(min=1)
