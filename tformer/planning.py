"""Fit the learning-rate schedule to the run it is in, and say when the run will not follow it.

A recipe with a time budget (``trainer.max_time``) schedules by that budget: the time per update
is measured over the first updates, the schedule's length is fixed from it (so a cosine decays
to its floor when the budget ends, on a fast CPU or a slow one), and the choice is logged and
saved in the checkpoint, so a resumed run keeps it. A quarter of the way in, the time per update
is measured again over the updates since the plan, and the plan follows it where it moved by more
than 5 %: a busy minute at the start no longer ends a run early.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.trainer.states import TrainerStatus
from torch.optim.lr_scheduler import LambdaLR

from .schedules import PlannedSchedule

__all__ = ["RunPlan"]

log = logging.getLogger("tformer.train")


class RunPlan(L.Callback):
    """Reports the planned schedule, a ``max_steps`` another limit cuts short and a run that ends
    inside its warm-up; with ``trainer.max_time``, fits a decaying schedule to the time budget.

    Args:
        skip_updates: first updates not timed (allocation, workers starting).
        measure_updates: updates timed to estimate the seconds per update.
        reserve: share of the remaining budget kept for validation and a busy machine.
        remeasure_at: the share of the planned updates after which the plan is measured again
            (0: never).
    """

    def __init__(self, skip_updates: int = 10, measure_updates: int = 50, reserve: float = 0.1, remeasure_at: float = 0.25):
        if skip_updates < 0 or measure_updates < 1 or not 0 <= reserve < 1 or not 0 <= remeasure_at < 1:
            raise ValueError("need skip_updates >= 0, measure_updates >= 1, 0 <= reserve < 1 and 0 <= remeasure_at < 1, "
                             f"got {skip_updates}, {measure_updates}, {reserve}, {remeasure_at}")
        self.skip_updates, self.measure_updates, self.reserve = skip_updates, measure_updates, reserve
        self.remeasure_at = remeasure_at
        self.remeasured = False
        self.planned: int | None = None  # where the schedule was refitted to end; saved in checkpoints
        self.seconds_per_update: float | None = None
        self.fits: int | None = None  # updates the time budget allows
        self._start: tuple[float, int] | None = None  # (time, update) where the timing began
        self._paused = 0.0  # seconds spent validating inside the timed updates
        self._validation_began: float | None = None
        self._budget_at: tuple[float, float, int, float] | None = None  # when the plan was made: time, budget left, update, validation so far
        self._configured: int | None = None  # the schedule's length before the plan (never planned beyond)

    # -- what the run will do ---------------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.planned is None and trainer.is_global_zero:  # a run resumed after its plan reported it then
            _report_limits(trainer, _schedule(trainer))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.status == TrainerStatus.INTERRUPTED or not trainer.is_global_zero:
            return
        schedule, step = _schedule(trainer), trainer.global_step
        if schedule is not None and step < schedule.warmup_steps:
            log.warning("training ended at update %d, inside the %d-update warm-up (task.scheduler.warmup_steps): "
                        "the learning rate never reached its peak; give warmup_steps as a fraction of the run, "
                        "e.g. task.scheduler.warmup_steps=0.05", step, schedule.warmup_steps)
        elif self.planned is not None and step < self.planned:
            log.warning("trainer.max_time stopped training at update %d of the %d the schedule was fitted to: "
                        "validation took more than the reserve of %.0f%% (raise callbacks.run_plan.reserve)",
                        step, self.planned, 100 * self.reserve)

    # -- timing the updates -----------------------------------------------------------------------
    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        step, now = trainer.global_step, time.monotonic()
        if self._due_to_remeasure(step):
            self._remeasure(trainer, step, now)
        if self.planned is not None and step >= self.planned:
            trainer.should_stop = True  # the schedule has ended: stop here, not at max_time
        if self.planned is not None or self.seconds_per_update is not None or _timer(trainer) is None:
            return
        schedule = _schedule(trainer)
        if schedule is None or not schedule.decays_by_plan:
            return
        if self._start is None:
            if step >= self.skip_updates:
                self._start, self._paused = (now, step), 0.0
            return
        began, first = self._start
        if step - first >= self.measure_updates:
            self.seconds_per_update = (now - began - self._paused) / (step - first)
            self._fit_budget(trainer, schedule, step, now)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._validation_began = time.monotonic()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._validation_began is not None:
            self._paused += time.monotonic() - self._validation_began
            self._validation_began = None

    def _fit_budget(self, trainer: L.Trainer, schedule: PlannedSchedule, step: int, now: float) -> None:
        remaining = _timer(trainer).time_remaining() or 0.0
        fits = self.fits = self._updates_that_fit(trainer, step, remaining, self.seconds_per_update)
        before = schedule.total_steps
        self._budget_at, self._configured = (now, remaining, step, self._paused), before
        if fits >= before:
            log.info("time budget: %.3f s per update, about %d updates fit in trainer.max_time; "
                     "the schedule keeps its %d", self.seconds_per_update, fits, before)
            return
        self.planned = max(fits, step + 1)
        schedule.plan(self.planned)
        log.info("time budget: %.3f s per update (updates %d-%d), %.0f s left: the schedule now ends at "
                 "update %d instead of %d, where trainer.max_time would have cut it", self.seconds_per_update,
                 self._start[1], step, remaining, self.planned, before)

    def _updates_that_fit(self, trainer: L.Trainer, step: int, remaining: float, seconds: float) -> int:
        """The update the budget reaches at ``seconds`` per update, keeping the reserve; every
        process follows rank 0's measurement."""
        return int(trainer.strategy.broadcast(step + int(remaining * (1 - self.reserve) / max(seconds, 1e-9))))

    def _due_to_remeasure(self, step: int) -> bool:
        if self.planned is None or self.remeasured or not self.remeasure_at or self._budget_at is None:
            return False  # a resumed run (no timing of its own) keeps its plan
        first = self._budget_at[2]
        return step - first >= max(self.measure_updates, self.remeasure_at * (self.planned - first))

    def _remeasure(self, trainer: L.Trainer, step: int, now: float) -> None:
        """Measure the time per update again over the updates since the plan, and follow it if it moved."""
        self.remeasured = True
        then, remaining_then, first, paused_then = self._budget_at
        seconds = (now - then - (self._paused - paused_then)) / (step - first)
        remaining = max(remaining_then - (now - then), 0.0)
        fits = self._updates_that_fit(trainer, step, remaining, seconds)
        if abs(fits - self.planned) <= 0.05 * self.planned:
            return
        before, self.planned, self.seconds_per_update = self.planned, max(min(fits, self._configured), step + 1), seconds
        self.fits = fits
        _schedule(trainer).plan(self.planned)
        log.info("time budget measured again: %.3f s per update (updates %d-%d), %.0f s left: the schedule now ends "
                 "at update %d instead of %d", seconds, first, step, remaining, self.planned, before)

    def summary(self) -> dict[str, Any] | None:
        """What the time budget decided, for ``metrics.json``; None without a measurement."""
        if self.seconds_per_update is None:
            return None
        return {"seconds_per_update": self.seconds_per_update, "updates_that_fit": self.fits,
                "schedule_refitted_to": self.planned}

    def state_dict(self) -> dict[str, Any]:
        return {"planned": self.planned, "seconds_per_update": self.seconds_per_update, "fits": self.fits,
                "remeasured": self.remeasured}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.planned = state_dict.get("planned")
        self.seconds_per_update = state_dict.get("seconds_per_update")
        self.fits = state_dict.get("fits")
        self.remeasured = state_dict.get("remeasured", False)


def _report_limits(trainer: L.Trainer, schedule: PlannedSchedule | None) -> None:
    planned = trainer.estimated_stepping_batches
    if trainer.max_steps > 0 and planned < trainer.max_steps:
        log.warning("trainer.max_steps=%d will not be reached: trainer.max_epochs=%s ends training after %d updates; "
                    "raise trainer.max_epochs, or set it to -1 to let max_steps decide",
                    trainer.max_steps, trainer.max_epochs, planned)
    if schedule is None:
        return
    base = trainer.optimizers[0].param_groups[0].get("initial_lr", trainer.optimizers[0].param_groups[0]["lr"])
    log.info("schedule: %s", schedule.describe(base))
    note = schedule.short_run_note()
    if note:
        log.warning(note)


def _schedule(trainer: L.Trainer) -> PlannedSchedule | None:
    for config in trainer.lr_scheduler_configs:
        if isinstance(config.scheduler, LambdaLR):
            for factor in config.scheduler.lr_lambdas:
                if isinstance(factor, PlannedSchedule):
                    return factor
    return None


def _timer(trainer: L.Trainer) -> Timer | None:
    # Lightning adds a Timer callback for trainer.max_time; without a budget, time_remaining() is None.
    for callback in trainer.callbacks:
        if isinstance(callback, Timer) and callback.time_remaining() is not None:
            return callback
    return None
