"""Lightning callbacks: attention maps of a few validation samples, logged to TensorBoard."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_warn

from .plots.attention import attention_figure
from .plots.figures import figure_to_array
from .plots.weights import collect_attention

__all__ = ["AttentionMapLogger"]


class AttentionMapLogger(L.Callback):
    """Draw the attention of the first ``n_samples`` items of the first validation batch.

    Images go to TensorBoard as ``attention/sample_<i>`` at the current step; without a
    ``TensorBoardLogger`` the callback does nothing. The items are those of the task's input field;
    decoder maps use greedy decoding (or the task's own generator where it has no beam). Only the
    first process draws (DDP is fine; under FSDP it skips, as one process cannot run sharded weights).
    Switch it on with ``callbacks=attention`` (and ``logger=tensorboard`` or ``logger=all``).

    Args:
        every_n_val: draw at every n-th validation run (the sanity check does not count).
        n_samples: items of the batch to draw.
        layer: draw only this layer (-1 = the last; ``None``: every layer).
        head: draw only this head (``None``: every head).
    """

    def __init__(self, every_n_val: int = 1, n_samples: int = 2, layer: int | None = -1, head: int | None = None):
        super().__init__()
        if every_n_val < 1 or n_samples < 1:
            raise ValueError(f"every_n_val and n_samples must be at least 1, got {every_n_val} and {n_samples}")
        self.every_n_val, self.n_samples, self.layer, self.head = every_n_val, n_samples, layer, head
        self.validations = 0

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.validations += 1

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx != 0 or dataloader_idx != 0 or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if (self.validations - 1) % self.every_n_val != 0:
            return
        writer = _tensorboard(trainer)
        if writer is None:
            return
        if "fsdp" in type(trainer.strategy).__name__.lower():  # rank 0 alone cannot gather sharded weights
            rank_zero_warn("AttentionMapLogger: skipped under FSDP (the weights are sharded across processes)")
            return
        self._log(writer, pl_module, batch, trainer.global_step)

    def _log(self, writer: Any, task: Any, batch: Any, step: int) -> None:
        # A picture that fails to draw must not end a training run: warn and go on.
        try:
            tokenizer, inputs = task.fields[task.input_field], batch[task.input_field]
            generator = _greedy(task.generator)
            for i in range(min(self.n_samples, inputs.values.size(0))):
                maps = collect_attention(task, tokenizer.batch_item(inputs.values, inputs.lengths, i), generator)
                image = figure_to_array(attention_figure(maps, self.layer, self.head))
                writer.add_image(f"attention/sample_{i}", image, step, dataformats="HWC")
        except Exception as error:  # noqa: BLE001
            rank_zero_warn(f"AttentionMapLogger: could not draw attention maps ({type(error).__name__}: {error})")

    def state_dict(self) -> dict[str, Any]:
        return {"validations": self.validations}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.validations = int(state_dict.get("validations", 0))


def _greedy(generator: Any) -> Any:
    # The task's generator with one beam (fast); one without a beam to resize (sampling) as it is.
    try:
        return None if generator is None else generator.with_beam_size(1)
    except ValueError:
        return generator


def _tensorboard(trainer: L.Trainer) -> Any:
    # The SummaryWriter of the first TensorBoardLogger, or None.
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None
