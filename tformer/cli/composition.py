"""Refuse a composition whose data gives raw items its tokenizers cannot read, before anything is built.

``tformer-train data=labeled_text`` with the default ``source=image_patch`` would otherwise
prepare every text as an image path, warn for each and stop with "no item could be prepared".
The check reads only the config and the declarations of the classes it names
(``source_kind``/``target_kind`` of a data set, ``reads`` of a tokenizer; see ``tformer.kinds``):
nothing is instantiated, prepared or fitted.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from .. import data as _data  # noqa: F401  (registers the data sets the options below name)
from ..kinds import SIDES, Mismatch, describe, kind_of, mismatches, reads_of
from ..registry import DATASETS, TOKENIZERS, Registry
from . import CONFIG_DIR

__all__ = ["check_composition"]

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")


def check_composition(cfg: DictConfig) -> None:
    """Raise ``ValueError`` when a data split gives raw items its source or target tokenizer cannot read.

    Args:
        cfg: the composed ``train`` config (``source``, ``target``, ``data.train`` and optionally
            ``data.valid``/``data.test``, each with a ``_target_``).
    Raises:
        ValueError: naming both sides, what each gives or reads, and the options that fit.
    """
    tokenizers = (_target(cfg, "source"), _target(cfg, "target"))
    for split in SPLITS:
        dataset = _target(cfg, f"data.{split}")
        if dataset is None:
            continue
        _log_undeclared(split, dataset, tokenizers)
        found = mismatches(dataset, *tokenizers)
        if found:
            raise ValueError(_message(split, dataset, tokenizers, found[0]))


def _target(cfg: DictConfig, key: str) -> Any:
    """The class or builder ``key._target_`` names; None if absent or not importable (instantiate says why)."""
    path = OmegaConf.select(cfg, f"{key}._target_", default=None)
    if not isinstance(path, str):
        return None
    try:
        return get_object(path)
    except (ImportError, AttributeError, ValueError):
        return None


def _log_undeclared(split: str, dataset: Any, tokenizers: tuple[Any, Any]) -> None:
    for side, tokenizer in zip(SIDES, tokenizers):
        if kind_of(dataset, side) is None:
            log.debug("data.%s (%s) declares no %s_kind: its %s side is not checked", split, _name(dataset), side, side)
        if tokenizer is not None and reads_of(tokenizer) is None:
            log.debug("%s (%s) declares no reads: it is not checked", side, _name(tokenizer))


def _message(split: str, dataset: Any, tokenizers: tuple[Any, Any], mismatch: Mismatch) -> str:
    side, given, reads = mismatch
    choices = _choices()
    tokenizer = tokenizers[SIDES.index(side)]
    chosen = f"{side}={choices.get(side) or _registered_name(TOKENIZERS, tokenizer)}"
    data = f"data={choices.get('data') or _registered_name(DATASETS, dataset)}" if split == "train" else f"data.{split}"
    readers = _options(side, TOKENIZERS, lambda option: given in (reads_of(option) or ()))
    givers = _options("data", DATASETS, lambda option: kind_of(option, side) in reads)
    return (
        f"{chosen} reads {describe(reads)}, but {data} gives {describe(given)} as the {side} ({_name(dataset)}); "
        f"{side}s that read {describe(given)}: {', '.join(readers) or '(none)'}; "
        f"data that gives {describe(reads, 'or')} as the {side}: {', '.join(givers) or '(none)'}"
    )


def _choices() -> dict[str, str]:
    """The option chosen in each config group (``source``, ``data``...) when running under Hydra."""
    if not HydraConfig.initialized():
        return {}  # composed with the compose API: the registry names stand in
    return {str(k): str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}


def _registered_name(registry: Registry, obj: Any) -> str:
    try:
        return registry.name_of(obj)
    except KeyError:
        return f"{obj.__module__}.{_name(obj)}"


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", type(obj).__name__)


def _options(group: str, registry: Registry, fits: Callable[[Any], bool]) -> list[str]:
    """The options of config group ``group`` whose registered class or builder ``fits``; registry
    names equal config file names, so an option without a registered namesake is left out."""
    return [name for name in _group_options(group) if name in registry and fits(registry.get(name))]


def _group_options(group: str) -> list[str]:
    """The option names of a config group, from Hydra's search path (with plug-ins' config folders)."""
    if GlobalHydra.instance().is_initialized():
        return GlobalHydra.instance().config_loader().get_group_options(group)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return GlobalHydra.instance().config_loader().get_group_options(group)
