"""Learning-rate schedules."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["InverseSqrtWarmup", "inverse_sqrt_warmup"]


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
