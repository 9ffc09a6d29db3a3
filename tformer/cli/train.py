"""tformer-train: compose a run with Hydra, fit the tokenizers, train, test, report."""

from __future__ import annotations

import itertools
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from ..checkpoint import atomic_write
from ..training import ExactResume, resolve_checkpoint, resolve_precision
from . import CONFIG_DIR
from .composition import check_composition
from .errors import explain_config_errors, friendly_errors
from .report import print_summary

log = logging.getLogger("tformer.train")


def build(cfg: DictConfig) -> tuple[Any, Any, L.Trainer]:
    """Instantiate data, tokenizers (fitted on the training split), task and trainer."""
    check_composition(cfg)  # data the tokenizers cannot read stops here, before anything is prepared
    data = instantiate(cfg.data, _convert_="all")
    source, target = _tokenizers(cfg, data)
    data.attach(source, target)
    task = instantiate(cfg.task, source=source, target=target, _convert_="all")
    if cfg.get("compile"):
        task.core.compile()
    loggers = [instantiate(c, _convert_="all") for c in (cfg.get("logger") or {}).values()]
    callbacks = [instantiate(c, _convert_="all") for c in (cfg.get("callbacks") or {}).values()]
    callbacks.append(ExactResume())
    trainer = build_trainer(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    return data, task, trainer


def build_trainer(trainer_cfg: DictConfig, **kwargs: Any) -> L.Trainer:
    """Lightning's Trainer from the ``trainer`` config, ``precision: auto`` resolved for this machine."""
    precision = trainer_cfg.get("precision", "32-true")
    resolved = resolve_precision(precision, trainer_cfg.get("accelerator", "auto"))
    if resolved != precision:
        log.info("trainer.precision=%s: %s on this machine", precision, resolved)
    return instantiate(trainer_cfg, precision=resolved, **kwargs, _convert_="all")


def _tokenizers(cfg: DictConfig, data: Any) -> tuple[Any, Any]:
    """The source and target tokenizers, fitted on the training split; with
    ``shared_vocabulary=true`` one tokenizer (one vocabulary, one embedding) serves both sides."""
    if cfg.get("shared_vocabulary"):
        if OmegaConf.to_container(cfg.source, resolve=True) != OmegaConf.to_container(cfg.target, resolve=True):
            differ = sorted(k for k in set(cfg.source) | set(cfg.target) if cfg.source.get(k) != cfg.target.get(k))
            raise ValueError("shared_vocabulary=true needs the same source and target tokenizer; "
                             f"source and target differ in: {', '.join(differ)}")
        tokenizer = instantiate(cfg.source, _convert_="all")
        if tokenizer.needs_fit:
            log.info("fitting one %s on both sides of the training split", type(tokenizer).__name__)
            tokenizer.fit(itertools.chain(data.train.sources(), data.train.targets()))
        return tokenizer, tokenizer
    source = instantiate(cfg.source, _convert_="all")
    target = instantiate(cfg.target, _convert_="all")
    for side, tokenizer, corpus in (("source", source, data.train.sources), ("target", target, data.train.targets)):
        if tokenizer.needs_fit:
            log.info("fitting the %s tokenizer (%s) on the training split", side, type(tokenizer).__name__)
            tokenizer.fit(corpus())
    return source, target


def train(cfg: DictConfig) -> tuple[Any, dict[str, Any]]:
    """Run one training job; returns the trained task and what ``metrics.json`` holds."""
    # Our loaders resume mid-epoch exactly (tformer.data.ResumableBatches); Lightning cannot tell.
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    ckpt, run_dir = resolve_checkpoint(cfg.get("ckpt_path"), Path(cfg.run_dir))
    cfg.run_dir = str(run_dir)  # resuming a run directory keeps writing into it
    L.seed_everything(cfg.seed, workers=True)
    data, task, trainer = build(cfg)
    trainer.fit(task, datamodule=data, ckpt_path=ckpt)
    result: dict[str, Any] = {"checkpoint": _last_checkpoint(trainer, run_dir), "run_dir": str(run_dir)}
    if cfg.get("test", True) and data.test is not None:
        (metrics,) = trainer.test(task, datamodule=data, verbose=False)
        result["test"] = {k: float(v) for k, v in metrics.items()}
    result["skipped_batches"] = task.skipped_batches
    if trainer.is_global_zero:
        atomic_write(run_dir / "metrics.json", json.dumps(result, indent=2) + "\n")
        print_summary(task, data, result, examples=cfg.get("examples", 5))
    return task, result


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
    trainer.save_checkpoint(path)
    return str(path)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@friendly_errors("tformer-train")
def _app(cfg: DictConfig) -> None:
    torch.set_float32_matmul_precision("high")
    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    train(cfg)


def main() -> None:
    """``tformer-train``: Hydra reads the command line."""
    with explain_config_errors("tformer-train"):
        _app()


if __name__ == "__main__":
    main()
