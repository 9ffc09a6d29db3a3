"""The task's fields: one tokenizer each, made from ``task.fields`` and fitted on the training split."""

from __future__ import annotations

import itertools
import logging
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

__all__ = ["build_fields"]

log = logging.getLogger("tformer.train")


def build_fields(cfg: DictConfig, data: Any) -> dict[str, Any]:
    """Field name -> its tokenizer, fitted on the column of the training split it reads. With
    ``shared_vocabulary=true`` one tokenizer (one vocabulary, one embedding) serves every field.

    Args:
        cfg: the composed ``train`` config (``task.fields``, ``shared_vocabulary``).
        data: the ``DataModule`` (``train`` split, ``column_of``).
    """
    specs = cfg.task.get("fields") or {}
    if not specs:
        raise ValueError("task.fields is empty: a task needs a tokenizer per field (see conf/task/*.yaml)")
    if cfg.get("shared_vocabulary"):
        return _shared(specs, data)
    # Every tokenizer is made before any is fitted: fitting resizes (re-draws) an embedding, so
    # this order keeps a run's random numbers, and its curve, those of runs before named fields.
    fields = {name: instantiate(spec, _convert_="all") for name, spec in specs.items()}
    for name, tokenizer in fields.items():
        if tokenizer.needs_fit:
            log.info("fitting the %s tokenizer (%s) on the training split", name, type(tokenizer).__name__)
            tokenizer.fit(data.train.column(data.column_of(name)))
    return fields


def _shared(specs: DictConfig, data: Any) -> dict[str, Any]:
    containers = {name: OmegaConf.to_container(spec, resolve=True) for name, spec in specs.items()}
    first_name, first = next(iter(containers.items()))
    for name, container in containers.items():
        if container != first:
            differ = sorted(k for k in set(container) | set(first) if container.get(k) != first.get(k))
            raise ValueError(f"shared_vocabulary=true needs one tokenizer for every field; {first_name} and {name} "
                             f"differ in: {', '.join(differ)}")
    tokenizer = instantiate(specs[first_name], _convert_="all")
    if tokenizer.needs_fit:
        log.info("fitting one %s on the fields %s of the training split", type(tokenizer).__name__, ", ".join(specs))
        tokenizer.fit(itertools.chain.from_iterable(data.train.column(data.column_of(name)) for name in specs))
    return {name: tokenizer for name in specs}
