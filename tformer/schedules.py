"""Learning-rate schedules."""

from __future__ import annotations

import math
import warnings

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["InverseSqrtWarmup", "inverse_sqrt_warmup", "WarmupCosine", "warmup_cosine"]


class InverseSqrtWarmup:
    """The paper's schedule (section 5.3) as a multiplier of the optimizer's base lr:
    ``scale · d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)``, step counted from 1.

    With the optimizer's lr at 1.0 and scale 1.0 this is exactly the paper's learning rate.
    """

    def __init__(self, d_model: int, warmup_steps: int = 4000, scale: float = 1.0):
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be at least 1, got {warmup_steps}")
        self.d_model, self.warmup_steps, self.scale = d_model, warmup_steps, scale

    def __call__(self, step: int) -> float:
        step = step + 1  # LambdaLR counts from 0
        return self.scale * self.d_model**-0.5 * min(step**-0.5, step * self.warmup_steps**-1.5)


def inverse_sqrt_warmup(optimizer: Optimizer, d_model: int, warmup_steps: int = 4000, scale: float = 1.0) -> LambdaLR:
    """A ``LambdaLR`` following ``InverseSqrtWarmup``, stepped once per optimizer update."""
    return LambdaLR(optimizer, InverseSqrtWarmup(d_model, warmup_steps, scale))


class WarmupCosine:
    """Linear warm-up to the base lr, then cosine decay to ``min_ratio`` of it at ``total_steps``.

    For short, fixed budgets (a run that must end well inside N minutes), where the paper's slow
    inverse-square-root decay leaves the learning rate too high at the end.
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float = 0.0):
        if warmup_steps < 1 or total_steps < 2:
            raise ValueError(f"need warmup_steps >= 1 and total_steps >= 2, got {warmup_steps} and {total_steps}")
        if warmup_steps >= total_steps:  # a short trial run of a long recipe
            warnings.warn(f"warmup_steps ({warmup_steps}) >= total_steps ({total_steps}): warming up for {total_steps // 10 or 1} steps")
            warmup_steps = total_steps // 10 or 1
        self.warmup_steps, self.total_steps, self.min_ratio = warmup_steps, total_steps, min_ratio

    def __call__(self, step: int) -> float:
        step = step + 1
        if step <= self.warmup_steps:
            return step / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: Optimizer, warmup_steps: int, total_steps: int | None = None, min_ratio: float = 0.0) -> LambdaLR:
    """A ``LambdaLR`` following ``WarmupCosine``; ``total_steps=None`` lets the task fill in the
    trainer's estimate (``max_steps``, or ``max_epochs`` × batches per epoch)."""
    if total_steps is None:
        raise ValueError("warmup_cosine needs total_steps (tasks fill it in from the trainer)")
    return LambdaLR(optimizer, WarmupCosine(warmup_steps, total_steps, min_ratio))
