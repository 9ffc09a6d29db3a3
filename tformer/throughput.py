"""Training throughput and model FLOP utilization (MFU), logged as a run trains."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, NamedTuple

import lightning as L
import torch

from .peaks import device_peak_tflops

__all__ = ["ThroughputMonitor"]

log = logging.getLogger("tformer.train")


class _Point(NamedTuple):
    """Totals since the first timed update: where a window of updates begins or ends."""

    step: int  # trainer.global_step
    seconds: float  # training time, validation left out
    tokens: float
    positions: float  # tokens and padding
    flops: float  # model FLOPs of this process


class ThroughputMonitor(L.Callback):
    """Log tokens per second, padding, model TFLOP/s and MFU of the training updates.

    The task answers for each batch: ``token_counts(batch)`` (real and padded tokens of its token
    fields, as the ``Batch`` lengths say) and ``flops(batch)`` (model FLOPs by the 6 N D rule,
    ``tformer.flops``). Counts stay on the device; they are read once per logging interval
    (``trainer.log_every_n_steps``), where Lightning's logging waits for the device anyway, so the
    updates between add no synchronization. Logged, averaged over the last ``window`` updates:

    - ``train/tokens_per_s``: real tokens per second, of all processes;
    - ``train/padding_fraction``: padding positions / all positions of the token fields;
    - ``train/tflops``: model TFLOP/s, of all processes;
    - ``train/mfu``: model FLOP/s of one device / its peak.

    Figures of all processes are the first process's times the number of processes (no extra
    communication). ``summary()`` gives the averages over the whole run, for ``metrics.json``.
    Lightning's own ThroughputMonitor synchronizes the GPU at every update and has no padding.

    Args:
        skip_steps: first updates not timed (allocation, compilation, workers starting).
        window: updates the logged figures average over (at least one logging interval).
        peak_tflops: the peak TFLOP/s of one device the MFU divides by; None: the GPU's dense
            spec-sheet figure for the precision in use, or a CPU's measured matmul speed
            (``tformer.peaks``).
    """

    def __init__(self, skip_steps: int = 10, window: int = 50, peak_tflops: float | None = None):
        super().__init__()
        if skip_steps < 0 or window < 1 or (peak_tflops is not None and peak_tflops <= 0):
            raise ValueError(f"need skip_steps >= 0, window >= 1 and peak_tflops > 0 or null, got {skip_steps}, "
                             f"{window}, {peak_tflops}")
        self.skip_steps, self.window, self.peak_tflops = skip_steps, window, peak_tflops
        self.peak: float | None = None
        self.peak_source = ""
        self._start_step, self._world_size = 0, 1
        self._counts: list[Any] = [0, 0, 0]  # tokens, positions, FLOPs since the last point (tensors on the device)
        self._first: _Point | None = None
        self._points: deque[_Point] = deque()
        self._last_end = (0, 0.0)  # (step, time) where the last update ended
        self._paused = 0.0  # seconds spent validating
        self._validation_began: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start_step, self._world_size = trainer.global_step, trainer.world_size
        self._first, self._counts = None, [0, 0, 0]
        self._points.clear()

    def _find_peak(self, trainer: L.Trainer) -> None:
        """The peak of one device; on a CPU a matmul is timed (about a second, once per process)."""
        if self.peak_tflops is not None:
            self.peak, self.peak_source = float(self.peak_tflops), "callbacks.throughput.peak_tflops"
        else:
            self.peak, self.peak_source = device_peak_tflops(trainer.strategy.root_device, trainer.precision)
        if not trainer.is_global_zero:
            return
        if self.peak is None:
            log.warning("MFU not logged: %s; give the peak with callbacks.throughput.peak_tflops=...", self.peak_source)
        else:
            log.info("MFU peak: %.4g TFLOP/s per device (%s)", self.peak, self.peak_source)

    # -- counting ---------------------------------------------------------------------------------
    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._first is None and trainer.global_step - self._start_step >= self.skip_steps:
            if not self.peak_source:
                self._find_peak(trainer)
            if trainer.strategy.root_device.type == "cuda":
                torch.cuda.synchronize(trainer.strategy.root_device)  # once: timing starts after the skipped updates
            self._first = _Point(trainer.global_step, self._now(), 0.0, 0.0, 0.0)
            self._points.append(self._first)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._first is None:
            return
        tokens, positions = pl_module.token_counts(batch)
        for i, value in enumerate((tokens, positions, pl_module.flops(batch))):
            self._counts[i] = self._counts[i] + value
        step, interval = trainer.global_step, trainer.log_every_n_steps or self.window
        self._last_end = (step, self._now())
        if step > self._points[-1].step and step % interval == 0:
            self._advance(step)
            self._log(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The updates since the last logged point count in summary(), until the last one ended.
        if self._first is not None and self._last_end[0] > self._points[-1].step:
            self._advance(*self._last_end)

    def _advance(self, step: int, now: float | None = None) -> None:
        """Read the counts since the last point (one wait for the device) and add a point."""
        tokens, positions, flops = (float(c) for c in self._counts)  # the first read waits; the others are ready
        self._counts = [0, 0, 0]
        last, now = self._points[-1], self._now() if now is None else now
        self._points.append(_Point(step, now, last.tokens + tokens, last.positions + positions, last.flops + flops))
        while len(self._points) > 2 and self._points[1].step <= step - self.window:
            self._points.popleft()

    def _now(self) -> float:
        return time.perf_counter() - self._paused

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._validation_began = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._validation_began is not None:
            self._paused += time.perf_counter() - self._validation_began
            self._validation_began = None

    # -- what is logged ---------------------------------------------------------------------------
    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        figures = self._figures(self._points[0], self._points[-1], trainer.world_size)
        for name, value in figures.items():
            pl_module.log(f"train/{name}", value, prog_bar=name in ("tokens_per_s", "mfu"), on_step=True,
                          on_epoch=False, batch_size=1)

    def _figures(self, begin: _Point, end: _Point, world_size: int) -> dict[str, float]:
        seconds = max(end.seconds - begin.seconds, 1e-9)
        tokens, positions = end.tokens - begin.tokens, end.positions - begin.positions
        flops_per_s = (end.flops - begin.flops) / seconds
        figures = {
            "tokens_per_s": tokens / seconds * world_size,
            "padding_fraction": 1.0 - tokens / positions if positions else 0.0,
            "tflops": flops_per_s * world_size / 1e12,
        }
        if self.peak:
            figures["mfu"] = flops_per_s / (self.peak * 1e12)
        return figures

    def summary(self) -> dict[str, Any] | None:
        """The figures over every timed update of this run, the peak and where it came from, for
        ``metrics.json``; None before a logging interval was timed."""
        if self._first is None or self._points[-1].step == self._first.step:
            return None
        result: dict[str, Any] = self._figures(self._first, self._points[-1], self._world_size)
        result.update(updates=self._points[-1].step - self._first.step, peak_tflops=self.peak, peak=self.peak_source)
        return result
