"""Which implementation of Adam/AdamW a run steps with (fused, foreach or the for-loop), and
gradient clipping for a fused optimizer under bf16 autocast.

torch's default is the for-loop on CPU and foreach on CUDA. The fused kernel updates every
parameter in one pass: torch documents it as the fastest on CUDA, and on CPU (torch >= 2.4 has
a fused CPU AdamW) an AdamW step of a 9.6M-parameter model took 11 ms of CPU time fused against
34 ms in the for-loop and 40 ms foreach (one thread, torch 2.11; ``benchmarks/speed_steps.py``
measures it again).
Elsewhere foreach groups the per-parameter operations into a few multi-tensor ones.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch
from lightning.pytorch.plugins.precision import MixedPrecision

__all__ = ["FUSED_DEVICES", "implementation", "with_implementation", "scales_and_clips", "clip_fused"]

FUSED_DEVICES = ("cuda", "cpu")  # CUDA: the fastest, as torch.optim documents; CPU: measured (above)


def implementation(device: torch.device | str, fused: bool = True) -> dict[str, bool]:
    """The keyword that picks the implementation on ``device``: ``{"fused": True}`` or ``{"foreach": True}``.

    Args:
        device: where the parameters are.
        fused: whether the run allows a fused optimizer (see ``scales_and_clips``).
    """
    return {"fused": True} if fused and torch.device(device).type in FUSED_DEVICES else {"foreach": True}


def with_implementation(factory: Callable[..., torch.optim.Optimizer], device: torch.device | str,
                        fused: bool = True) -> Callable[..., torch.optim.Optimizer]:
    """``factory`` (an optimizer partial from ``task.optimizer``) with ``fused`` or ``foreach``
    chosen for ``device`` (``implementation``), where it builds Adam or AdamW and the config sets neither.

    ``task.optimizer.fused`` or ``task.optimizer.foreach`` set to true or false keeps the config's
    choice: ``task.optimizer.foreach=false`` is torch's for-loop.
    """
    if not (isinstance(factory, functools.partial) and isinstance(factory.func, type)
            and issubclass(factory.func, (torch.optim.Adam, torch.optim.AdamW))):
        return factory  # other optimizers' fused kernels cover other devices (Adagrad's: CPU only)
    if any(factory.keywords.get(name) is not None for name in ("fused", "foreach")):
        return factory
    return functools.partial(factory, **implementation(device, fused))


def scales_and_clips(trainer: Any) -> bool:
    """Whether ``trainer`` clips gradients that a GradScaler has scaled (``16-mixed``): they must be
    unscaled before clipping, and a fused optimizer unscales them only inside its step."""
    return bool(trainer.gradient_clip_val) and getattr(trainer.precision_plugin, "scaler", None) is not None


def clip_fused(trainer: Any, optimizer: torch.optim.Optimizer, clip_val: float | None, algorithm: str | None) -> bool:
    """Clip the gradients of a fused optimizer under autocast without a GradScaler (``bf16-mixed``),
    which Lightning refuses; returns whether it clipped.

    Lightning's ``MixedPrecision`` plugin will not clip for an optimizer that unscales gradients in
    its step, whether or not a GradScaler scaled them; without one the gradients are the true ones,
    so they are clipped here as Lightning's plain precision clips them (by norm, or by value).
    """
    plugin = trainer.precision_plugin
    unscaled_autocast = isinstance(plugin, MixedPrecision) and plugin.scaler is None
    if not (clip_val and optimizer.defaults.get("fused") and unscaled_autocast):
        return False
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    if algorithm == "value":
        torch.nn.utils.clip_grad_value_(parameters, clip_val)
    else:
        torch.nn.utils.clip_grad_norm_(parameters, clip_val)
    return True
