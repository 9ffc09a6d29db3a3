"""Refuse a composition whose data lacks a field the task reads, or gives raw items a field's
tokenizer cannot read, before anything is built.

``tformer-train data=labeled_text`` with the default ``source=image_patch`` would otherwise
prepare every text as an image path, warn for each and stop with "no item could be prepared";
a language model on parallel text would fail at its first batch. The check reads only the
config and the declarations of the classes it names (``fields`` of a data set, ``reads`` of a
tokenizer; see ``tformer.kinds``): nothing is instantiated, prepared or fitted.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, Callable, Mapping

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from .. import data as _data  # noqa: F401  (registers the data sets the options below name)
from ..kinds import Mismatch, describe, fields_of, mismatches, reads_of
from ..registry import DATASETS, TASKS, TOKENIZERS, Registry, stray_argument_message, stray_names
from . import CONFIG_DIR

__all__ = ["check_composition"]

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")
GROUPS = ("source", "target")  # task fields named like the command line's tokenizer groups


def check_composition(cfg: DictConfig) -> None:
    """Raise ``ValueError`` when a data split lacks a field the task reads, gives raw items a
    field's tokenizer cannot read, or the generator needs an objective the task does not train.

    Args:
        cfg: the composed ``train`` config (``task.fields``, ``data.train`` and optionally
            ``data.valid``/``data.test``, each with a ``_target_``; ``data.fields`` renames).
    Raises:
        ValueError: naming the field, what the data gives or lacks, and the options that fit; or
            naming every key of a ``_target_`` node that is not an argument of what it builds.
    """
    _check_arguments(OmegaConf.to_container(cfg, resolve=False), "")
    _check_generator(cfg)
    names = list(OmegaConf.select(cfg, "task.fields", default=None) or {})
    tokenizers = {name: _target(cfg, f"task.fields.{name}") for name in names}
    renamed = dict(OmegaConf.select(cfg, "data.fields", default=None) or {})
    for split in SPLITS:
        dataset = _target(cfg, f"data.{split}")
        given = fields_of(dataset) if dataset is not None else None
        if given is None:
            if dataset is not None:
                log.debug("data.%s (%s) declares no fields: it is not checked", split, _name(dataset))
            continue
        lacking = [name for name in names if renamed.get(name, name) not in given]
        if lacking:
            raise ValueError(_missing_message(cfg, split, dataset, given, lacking[0], tokenizers, renamed))
        found = mismatches(given, tokenizers, renamed)
        if found:
            raise ValueError(_message(split, dataset, tokenizers, found[0]))


def _check_arguments(node: Any, key: str) -> None:
    """Every key of every ``_target_`` node is an argument of what it names: the keys a recipe set
    for the option a command line replaced (``beam_size`` and ``pre_beam`` of a beam switched to
    ``ctc_greedy``) are named all at once, before anything is read."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check_arguments(item, f"{key}[{index}]")
    if not isinstance(node, dict):
        return
    target = _importable(node.get("_target_"))
    stray = stray_names([k for k in node if not str(k).startswith("_")], target) if target is not None else []
    if stray:
        raise ValueError(f"building {node['_target_']}: {stray_argument_message(key, stray, target)}")
    for name, value in node.items():
        _check_arguments(value, f"{key}.{name}".lstrip("."))


def _check_generator(cfg: DictConfig) -> None:
    """The generator's own check (``Generator.check``) against the objectives configured, before
    any data is read or tokenizer fitted."""
    if _target(cfg, "task.generator") is None:
        return
    generator = instantiate(OmegaConf.select(cfg, "task.generator"))
    configured = OmegaConf.select(cfg, "task.objectives", default=None) or {}
    objectives = {name: part for name, part in configured.items() if part is not None}
    check = getattr(generator, "check", None)
    if check is not None:
        check(SimpleNamespace(objectives=objectives))  # what Generator.check reads of a task


def _target(cfg: DictConfig, key: str) -> Any:
    """The class or builder ``key._target_`` names; None if absent or not importable (instantiate says why)."""
    return _importable(OmegaConf.select(cfg, f"{key}._target_", default=None))


def _importable(path: Any) -> Any:
    if not isinstance(path, str):
        return None
    try:
        return get_object(path)
    except (ImportError, AttributeError, ValueError):
        return None


def _data_name(split: str, dataset: Any) -> str:
    return f"data={_choices().get('data') or _registered_name(DATASETS, dataset)}" if split == "train" else f"data.{split}"


def _missing_message(
    cfg: DictConfig, split: str, dataset: Any, given: Mapping[str, str], field: str, tokenizers: Mapping[str, Any],
    renamed: Mapping[str, str],
) -> str:
    task_class = _target(cfg, "task")
    task = _choices().get("task") or (_registered_name(TASKS, task_class) if task_class is not None else None)
    column = renamed.get(field, field)
    which = f"reads its field {field!r}" + (f" from the data field {column!r}" if column != field else "")
    # "+": without it Hydra adds no new key to a dict the config has (data=fortunes' data.fields); "+" merges
    return (f"{f'task={task}' if task else 'the task'} {which}, but {_data_name(split, dataset)} gives "
            f"{', '.join(map(repr, given))} ({_name(dataset)}); say which data field it reads, "
            f"e.g. +data.fields={{{field}: {_example(field, given, tokenizers, renamed)}}}")


def _example(field: str, given: Mapping[str, str], tokenizers: Mapping[str, Any], renamed: Mapping[str, str]) -> str:
    """The data field to suggest for ``field``: one its tokenizer reads that no other task field
    reads, else one it reads, else the first."""
    reads = reads_of(tokenizers.get(field))
    readable = [name for name, kind in given.items() if reads is None or kind in reads]
    taken = {renamed.get(other, other) for other in tokenizers if other != field}
    return next((name for name in readable if name not in taken), next(iter(readable or given)))


def _message(split: str, dataset: Any, tokenizers: Mapping[str, Any], mismatch: Mismatch) -> str:
    field, column, given, reads = mismatch
    tokenizer = tokenizers[field]
    name = _choices().get(field) if field in GROUPS else None
    chosen = f"{field}={name or _registered_name(TOKENIZERS, tokenizer)}" if field in GROUPS else \
        f"task.fields.{field} ({_registered_name(TOKENIZERS, tokenizer)})"
    where = f"as the {column}" if column == field else f"as its field {column!r}, which task field {field!r} reads"
    readers = _options(field, TOKENIZERS, lambda option: given in (reads_of(option) or ())) if field in GROUPS else \
        [n for n in TOKENIZERS.names() if given in (reads_of(TOKENIZERS.get(n)) or ())]
    givers = _options("data", DATASETS, lambda option: (fields_of(option) or {}).get(column) in reads)
    return (
        f"{chosen} reads {describe(reads)}, but {_data_name(split, dataset)} gives {describe(given)} {where} "
        f"({_name(dataset)}); {field + 's' if field in GROUPS else 'tokenizers'} that read {describe(given)}: "
        f"{', '.join(readers) or '(none)'}; "
        f"data that gives {describe(reads, 'or')} as the {column}: {', '.join(givers) or '(none)'}"
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
