"""Learning-rate schedules, as multipliers of the optimizer's base lr, that know the run they are in.

``warmup_steps`` is a number of updates, or, below 1, a fraction of the planned updates
(``total_steps``: the trainer's ``max_steps``, or ``max_epochs`` x batches per epoch, or what a
time budget allows; see ``tformer.planning``), so a default suits a 150-update trial and a
100,000-update run alike. The plan lives in the schedule object, which ``LambdaLR`` saves with
its state: a resumed run keeps the length its first part chose.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["PlannedSchedule", "InverseSqrtWarmup", "inverse_sqrt_warmup", "WarmupCosine", "warmup_cosine"]


class PlannedSchedule:
    """A schedule with a warm-up given in updates or as a fraction of ``total_steps``.

    Args:
        warmup_steps: updates (an integer >= 1), or a fraction in (0, 1) of ``total_steps``.
        total_steps: the planned updates; ``None`` until the task fills it in from the trainer.
    """

    decays_by_plan = False  # whether the shape depends on total_steps (a time budget then refits it)

    def __init__(self, warmup_steps: float, total_steps: int | None = None):
        if not (0 < warmup_steps < 1 or (warmup_steps >= 1 and float(warmup_steps).is_integer())):
            raise ValueError(f"warmup_steps must be a whole number of updates (>= 1) or a fraction in (0, 1), got {warmup_steps}")
        self.warmup = warmup_steps
        self.total_steps = total_steps
        self.plan(total_steps)

    def plan(self, total_steps: int | None) -> None:
        """Set the planned number of updates (a fractional warm-up follows it)."""
        if total_steps is not None and total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        if self.warmup < 1 and total_steps is None:
            raise ValueError(f"task.scheduler.warmup_steps={self.warmup} is a fraction of the planned updates, but the run "
                             "plans none (trainer.max_steps and trainer.max_epochs are -1): give warmup_steps in updates")
        self.total_steps = total_steps

    @property
    def configured_warmup(self) -> int:
        """The warm-up as configured, in updates."""
        if self.warmup >= 1:
            return int(self.warmup)
        return max(1, round(self.warmup * self.total_steps))

    @property
    def warmup_steps(self) -> int:
        """The warm-up the schedule follows, in updates."""
        return self.configured_warmup

    def short_run_note(self) -> str | None:
        """What happens when the run plans fewer updates than the warm-up, or None if it does not."""
        if self.total_steps is None or self.total_steps >= self.configured_warmup:
            return None
        return (f"the run plans {self.total_steps} updates, fewer than its {self.configured_warmup}-update warm-up "
                f"(task.scheduler.warmup_steps): the learning rate ends at {self.factor(self.total_steps) / self.peak():.0%} "
                "of its peak; give warmup_steps as a fraction of the run, e.g. 0.05")

    def __call__(self, step: int) -> float:
        return self.factor(step + 1)  # LambdaLR counts from 0, the formulas from 1

    def factor(self, step: int) -> float:
        """The multiplier of the base lr at update ``step`` (counted from 1)."""
        raise NotImplementedError

    def peak(self) -> float:
        """The largest multiplier, reached at the end of the warm-up."""
        return self.factor(self.warmup_steps)

    def describe(self, lr: float) -> str:
        """The schedule in words, for the optimizer's base learning rate ``lr``."""
        raise NotImplementedError


class InverseSqrtWarmup(PlannedSchedule):
    """The paper's schedule (section 5.3) as a multiplier of the optimizer's base lr:
    ``scale · d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)``, step counted from 1.

    With the optimizer's lr at 1.0 and scale 1.0 this is exactly the paper's learning rate; its
    peak, ``scale · (d_model · warmup_steps)^-0.5``, falls as the warm-up grows.
    """

    def __init__(self, d_model: int, warmup_steps: float = 4000, scale: float = 1.0, total_steps: int | None = None):
        self.d_model, self.scale = d_model, scale
        super().__init__(warmup_steps, total_steps)

    def factor(self, step: int) -> float:
        return self.scale * self.d_model**-0.5 * min(step**-0.5, step * self.warmup_steps**-1.5)

    def describe(self, lr: float) -> str:
        return f"linear warm-up over {self.warmup_steps} updates to lr {lr * self.peak():.3g}, then lr ∝ 1/√update"


def inverse_sqrt_warmup(optimizer: Optimizer, d_model: int, warmup_steps: float = 4000, scale: float = 1.0,
                        total_steps: int | None = None) -> LambdaLR:
    """A ``LambdaLR`` following ``InverseSqrtWarmup``, stepped once per optimizer update."""
    return LambdaLR(optimizer, InverseSqrtWarmup(d_model, warmup_steps, scale, total_steps))


class WarmupCosine(PlannedSchedule):
    """Linear warm-up to the base lr, then cosine decay to ``min_ratio`` of it at ``total_steps``.

    For fixed budgets (a run that must end well inside N minutes), where the paper's slow
    inverse-square-root decay leaves the learning rate too high at the end.
    """

    decays_by_plan = True

    def __init__(self, warmup_steps: float, total_steps: int, min_ratio: float = 0.0):
        self.min_ratio = min_ratio
        super().__init__(warmup_steps, total_steps)

    @property
    def warmup_steps(self) -> int:
        """The configured warm-up, or a tenth of the run when the run is not longer than it."""
        configured = self.configured_warmup
        return configured if configured < self.total_steps else max(1, self.total_steps // 10)

    def short_run_note(self) -> str | None:
        if self.configured_warmup < self.total_steps:
            return None
        return (f"the run plans {self.total_steps} updates, not more than its {self.configured_warmup}-update warm-up "
                f"(task.scheduler.warmup_steps): warming up over {self.warmup_steps} updates (a tenth of the run) instead")

    def describe(self, lr: float) -> str:
        return (f"linear warm-up over {self.warmup_steps} updates to lr {lr * self.peak():.3g}, "
                f"cosine decay to {lr * self.min_ratio:.3g} at update {self.total_steps}")

    def factor(self, step: int) -> float:
        warmup = self.warmup_steps
        if step <= warmup:
            return step / warmup
        progress = min(1.0, (step - warmup) / max(1, self.total_steps - warmup))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: Optimizer, warmup_steps: float, total_steps: int | None = None, min_ratio: float = 0.0) -> LambdaLR:
    """A ``LambdaLR`` following ``WarmupCosine``; ``total_steps=None`` lets the task fill in the
    trainer's estimate (``max_steps``, or ``max_epochs`` × batches per epoch)."""
    if total_steps is None:
        raise ValueError("warmup_cosine needs total_steps (tasks fill it in from the trainer)")
    return LambdaLR(optimizer, WarmupCosine(warmup_steps, total_steps, min_ratio))
