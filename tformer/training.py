"""Training helpers: exact resumption (random state), warnings about skipped data items,
checkpoint lookup, precision by hardware."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from .data.module import DataModule

__all__ = ["ExactResume", "ReportSkippedItems", "native_bf16", "resolve_checkpoint", "resolve_precision"]


class ExactResume(L.Callback):
    """Makes a resumed run continue as if it never stopped: saves and restores the Python,
    NumPy and torch random states with each checkpoint (same dropout masks and augmentations),
    and lets loggers that can (``tformer.loggers.CSVLogger``) continue their curve.

    States are stored as tensors and plain ints, loadable with ``torch.load(weights_only=True)``.
    They are put back just before the first resumed batch, after the data loaders were rebuilt
    (creating a loader iterator draws a seed from the global generator).
    """

    def __init__(self):
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        version, keys, gauss = random.getstate()
        np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
        return {
            "python": {"version": version, "keys": torch.tensor(keys, dtype=torch.int64), "gauss": gauss},
            "numpy": {"keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                      "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending = state

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:  # resumed: loggers that can, continue their curve from here
            for logger in trainer.loggers:
                if hasattr(logger, "on_resume"):
                    logger.on_resume(trainer.global_step)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._pending is not None:
            _set_random_state(self._pending)
            self._pending = None


class ReportSkippedItems(L.Callback):
    """At the end of each train, validation and test epoch, one warning per split about the data
    items that could not be prepared (``DataModule.warn_skipped``), counted over every DataLoader
    worker; items that fail again in later epochs are not reported again.

    An epoch's end is the first moment every batch of the epoch has arrived, so the count is
    complete; a warning per batch would repeat itself, and the DataModule sees no epoch ends.
    """

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _warn_skipped(trainer, "train")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:  # the sanity check sees a few batches; the real epoch counts
            _warn_skipped(trainer, "valid")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _warn_skipped(trainer, "test")

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _warn_skipped(trainer, "test")  # the DataModule predicts on its test split


def _warn_skipped(trainer: L.Trainer, split: str) -> None:
    if isinstance(trainer.datamodule, DataModule):
        trainer.datamodule.warn_skipped(split)


def _set_random_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["keys"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resolve_checkpoint(ckpt_path: str | None, run_dir: Path) -> tuple[str | None, Path]:
    """Where to resume from, and which run directory to write to.

    Args:
        ckpt_path: ``None``; a ``.ckpt`` file; ``"last"`` (this run directory's newest of
            ``checkpoints/last.ckpt`` and ``checkpoints/interrupted.ckpt``, the one written on
            Ctrl-C or SIGTERM); or a run directory, likewise, which the resumed run keeps
            writing into.
        run_dir: this run's own directory.
    """
    if ckpt_path is None:
        return None, run_dir
    path = run_dir if ckpt_path == "last" else Path(ckpt_path)
    if path.is_dir():
        run_dir, path = path, _newest(path / "checkpoints")
    if not path.is_file():
        raise FileNotFoundError(
            f"ckpt_path={ckpt_path}: no checkpoint at {path}; give a .ckpt file, a run directory, "
            f"or 'last' together with hydra.run.dir=<that run's directory>"
        )
    return str(path), run_dir


def _newest(folder: Path) -> Path:
    candidates = [p for p in (folder / "last.ckpt", folder / "interrupted.ckpt") if p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else folder / "last.ckpt"


def native_bf16(accelerator: str) -> bool:
    """Whether ``accelerator`` (``"cpu"`` or ``"gpu"``) multiplies bfloat16 matrices in hardware.

    CPUs with AVX512-BF16 or AMX run a bf16 matrix product about 4x faster than float32 (this
    project's 2-core machine: about 825 against 211 GFLOP/s, benchmarks/RESULTS.md); without
    them oneDNN emulates bf16 and autocast is slower than float32.
    """
    if accelerator == "gpu":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu, private: may go
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def resolve_precision(precision: str | int, accelerator: str) -> str | int:
    """``trainer.precision``, with ``"auto"`` made ``"bf16-mixed"`` where the hardware has native
    bfloat16 and ``"32-true"`` elsewhere; any other value is returned as it is.

    Args:
        precision: the configured value (Lightning's names, or ``"auto"``).
        accelerator: the configured ``trainer.accelerator``; ``"auto"`` means a GPU if CUDA is
            available, else the CPU.
    """
    if precision != "auto":
        return precision
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    kind = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}.get(accelerator)  # others (mps, tpu): float32
    return "bf16-mixed" if kind and native_bf16(kind) else "32-true"
