"""tformer-train: compose a run with Hydra, fit the tokenizers, train, test, report."""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.utilities.model_summary import get_human_readable_count
from omegaconf import DictConfig, OmegaConf

from ..checkpoint import atomic_write
from ..compiling import compile_core
from ..data import ReportSkippedItems
from ..planning import RunPlan
from ..throughput import ThroughputMonitor
from ..training import ExactResume, InterruptCheckpoint, resolve_checkpoint, resolve_precision
from . import CONFIG_DIR
from .composition import check_composition
from .console import quiet_libraries
from .errors import explain_config_errors, friendly_errors
from .fields import build_fields
from .multirun import multirun_job
from .report import print_summary

log = logging.getLogger("tformer.train")


def build(cfg: DictConfig) -> tuple[Any, Any, L.Trainer]:
    """Instantiate data, tokenizers (fitted on the training split), task and trainer."""
    check_composition(cfg)  # data the tokenizers cannot read stops here, before anything is prepared
    data = instantiate(cfg.data, _convert_="all")
    fields = build_fields(cfg, data)
    data.attach(fields)
    task_cfg = {k: v for k, v in OmegaConf.to_container(cfg.task, resolve=True).items() if k != "fields"}
    task = instantiate(task_cfg, fields=fields, _convert_="all")
    compile_core(task.core, cfg.get("compile"))
    loggers = [instantiate(c, _convert_="all") for c in (cfg.get("logger") or {}).values()]
    callbacks = [instantiate(c, _convert_="all") for c in (cfg.get("callbacks") or {}).values()]
    if not loggers:  # logger=none: Lightning refuses a learning-rate monitor with nothing to log to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    callbacks += [ExactResume(), ReportSkippedItems()]
    trainer = build_trainer(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    return data, task, trainer


def build_trainer(trainer_cfg: DictConfig, **kwargs: Any) -> L.Trainer:
    """Lightning's Trainer from the ``trainer`` config, ``precision: auto`` resolved for this machine."""
    precision = trainer_cfg.get("precision", "32-true")
    resolved = resolve_precision(precision, trainer_cfg.get("accelerator", "auto"))
    if resolved != precision:
        log.info("trainer.precision=%s: %s on this machine", precision, resolved)
    return instantiate(trainer_cfg, precision=resolved, **kwargs, _convert_="all")


def train(cfg: DictConfig) -> tuple[Any, dict[str, Any]]:
    """Run one training job; returns the trained task and what ``metrics.json`` holds."""
    # Our loaders resume mid-epoch exactly (tformer.data.ResumableBatches); Lightning cannot tell.
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    ckpt, run_dir = resolve_checkpoint(cfg.get("ckpt_path"), Path(cfg.run_dir))
    cfg.run_dir = str(run_dir)  # resuming a run directory keeps writing into it
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    data, task, trainer = build(cfg)
    log.info("model: %s", _parameter_counts(task))
    if ckpt:
        log.info("resuming from %s", ckpt)
    _fit(trainer, task, data, ckpt, run_dir)
    result: dict[str, Any] = {"checkpoint": _last_checkpoint(trainer, run_dir), "run_dir": str(run_dir)}
    for plan in (c for c in trainer.callbacks if isinstance(c, RunPlan) and c.summary() is not None):
        result["time_budget"] = plan.summary()
    for monitor in (c for c in trainer.callbacks if isinstance(c, ThroughputMonitor) and c.summary() is not None):
        result["throughput"] = monitor.summary()
    if cfg.get("test", True) and data.test is not None:
        (metrics,) = trainer.test(task, datamodule=data, verbose=False)
        result["test"] = {k: float(v) for k, v in metrics.items()}
    result["skipped_batches"] = task.skipped_batches
    if trainer.is_global_zero:
        atomic_write(run_dir / "metrics.json", json.dumps(result, indent=2) + "\n")
        print_summary(task, data, result, examples=cfg.get("examples", 5))
    return task, result


def _fit(trainer: L.Trainer, task: Any, data: Any, ckpt: str | None, run_dir: Path) -> None:
    """``trainer.fit``; after Ctrl-C, SIGTERM or a crash, say where training was saved and how to go
    on, and exit with 130 (Ctrl-C) or 143 (SIGTERM), as a shell reports a process the signal ended."""
    interrupt = next((c for c in trainer.callbacks if isinstance(c, InterruptCheckpoint)), None)
    try:
        trainer.fit(task, datamodule=data, ckpt_path=ckpt)
    except BaseException:  # Lightning turns Ctrl-C into SystemExit(1), SIGTERM into SystemExit(0)
        if interrupt is None or interrupt.reason is None:
            raise
        if trainer.is_global_zero:
            what = "interrupted by" if interrupt.reason in interrupt.EXIT_CODES else "stopped by an error,"
            print(f"tformer-train: {what} {interrupt.reason} at update {interrupt.step}; saved {_shown(interrupt.path)}\n"
                  f"tformer-train: resume with: {_resume_command(run_dir)}", file=sys.stderr)
        if interrupt.reason in interrupt.EXIT_CODES:
            raise SystemExit(interrupt.exit_code) from None
        raise


def _resume_command(run_dir: Path) -> str:
    """The command line of this run, resuming from its run directory."""
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    kept = [o for o in overrides if not o.startswith(("ckpt_path=", "hydra.run.dir="))]
    return " ".join(["tformer-train", *map(shlex.quote, kept), shlex.quote(f"ckpt_path={_shown(run_dir)}")])


def _shown(path: Path) -> str:
    # A path as short as it can be shown: relative to the working directory when it lies inside.
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def _parameter_counts(task: Any) -> str:
    """``"805 K parameters: core (Encoder) 795 K, source (ImagePatchTokenizer) 8.7 K, head 1.3 K"``."""
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    parts, seen = [], set()
    for name, tokenizer in task.fields.items():
        if id(tokenizer) not in seen and count(tokenizer):  # a shared vocabulary counts once
            parts.append(f"{name} ({type(tokenizer).__name__}) {get_human_readable_count(count(tokenizer))}")
        seen.add(id(tokenizer))
    parts.append(f"core ({type(task.core).__name__}) {get_human_readable_count(count(task.core))}")
    for name, module in task.named_children():
        if name not in ("fields", "core") and count(module):
            parts.append(f"{name} {get_human_readable_count(count(module))}")
    return f"{get_human_readable_count(count(task))} parameters: " + ", ".join(parts)


def _last_checkpoint(trainer: L.Trainer, run_dir: Path) -> str:
    """The checkpoint of the trained weights; written now if no callback wrote one at the end
    (a run stopped by ``max_time`` or ``max_steps`` between two scheduled checkpoints)."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.last_model_path:
            # ModelCheckpoint keeps the step of its last save only privately; without it, save again.
            saved_at = getattr(callback, "_last_global_step_saved", None)
            if Path(callback.last_model_path).is_file() and trainer.global_step == saved_at:
                return callback.last_model_path
    path = run_dir / "checkpoints" / "last.ckpt"
    trainer.save_checkpoint(path, weights_only=False)
    return str(path)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@friendly_errors("tformer-train")
def _app(cfg: DictConfig) -> None:
    torch.set_float32_matmul_precision("high")
    quiet_libraries()
    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    with multirun_job():  # a sweep's DDP ranks train their own job (tformer/cli/multirun.py)
        train(cfg)


def main() -> None:
    """``tformer-train``: Hydra reads the command line."""
    with explain_config_errors("tformer-train"):
        _app()


if __name__ == "__main__":
    main()
