"""Built-in data sets prepared offline into a cache folder, atomically, on first use.

A data set lives in ``<root>/<name>/`` (root: ``$TFORMER_DATA`` or ``~/.cache/tformer/data``)
with an ``info.json`` (options, split counts); prepared with other than the default options, in
``<root>/<name>-<hash of those options>/``, so that runs with different options neither replace
nor race for each other's copy. It is written into a hidden temporary folder
beside it that is renamed into place only when complete, so a half-written folder is never
mistaken for a finished one, and two processes preparing at once both end with the same data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Callable

from tformer.data.errors import DataError

__all__ = [
    "Builtin", "BUILTINS", "register_builtin", "data_root", "changed_options", "dataset_folder", "prepared_folder",
    "read_info", "check_split", "data_processes",
]

log = logging.getLogger(__name__)
MAX_PROCESSES = 16  # unless asked for: a spawned process imports torch again (about 0.3 GB each)
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Builtin:
    """A built-in data set: how to prepare it and with which options.

    Args:
        name: the folder and registry name.
        description: one line for ``tformer-data --list``.
        prepare: ``prepare(folder, **options) -> info`` writes the files into ``folder`` and
            returns what ``info.json`` should record (at least ``{"splits": {split: count}}``).
        defaults: the options and their default values.
        version: bump when the file layout changes, so old caches are rebuilt. A new option whose
            default reproduces the old files needs no bump: a cache prepared before the option
            existed counts as prepared with its default.
    """

    name: str
    description: str
    prepare: Callable[..., dict[str, Any]]
    defaults: dict[str, Any] = field(default_factory=dict)
    version: int = 1


BUILTINS: dict[str, Builtin] = {}


def register_builtin(builtin: Builtin) -> Builtin:
    """Add ``builtin`` to ``BUILTINS`` (a duplicate name is an error).

    Args:
        builtin: the data set.
    Returns:
        The same data set.
    """
    if builtin.name in BUILTINS:
        raise ValueError(f"built-in data set {builtin.name!r} is already registered")
    BUILTINS[builtin.name] = builtin
    return builtin


def data_root(root: str | PathLike | None = None) -> Path:
    """The folder holding the built-in data sets.

    Args:
        root: an explicit folder; else ``$TFORMER_DATA``; else ``~/.cache/tformer/data``.
    Returns:
        The folder (not created).
    """
    if root is None:
        root = os.environ.get("TFORMER_DATA") or Path.home() / ".cache" / "tformer" / "data"
    return Path(root).expanduser()


def data_processes() -> int:
    """How many processes synthesize, render or decode while a data set is prepared:
    ``$TFORMER_DATA_PROCESSES``, else every core this process may run on, up to ``MAX_PROCESSES``.
    What is drawn is drawn before the work is shared out, so the data are the same for any count."""
    value = os.environ.get("TFORMER_DATA_PROCESSES", "").strip()
    if not value:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return min(cores, MAX_PROCESSES)
    if not value.isdigit() or int(value) < 1:
        raise DataError(f"TFORMER_DATA_PROCESSES={value!r} must be a whole number of processes >= 1, or unset "
                        f"(every core)")
    return int(value)


def read_info(folder: Path) -> dict[str, Any] | None:
    """The ``info.json`` of a finished data set folder, or None when there is none."""
    try:
        return json.loads((folder / "info.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def check_split(split: str) -> str:
    """Return ``split`` if it is "train", "valid" or "test"; raise ``ValueError`` otherwise."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {', '.join(SPLITS)}")
    return split


def prepared_folder(name: str, root: str | PathLike | None = None, force: bool = False, **options: Any) -> Path:
    """The folder of built-in data set ``name``, prepared first if missing, stale or ``force``.

    Args:
        name: a key of ``BUILTINS``.
        root: the data root (see ``data_root``).
        force: prepare again even if a finished folder with the same options exists.
        options: preparation options; those not given take the data set's defaults.
    Returns:
        The finished folder.
    """
    if name not in BUILTINS:
        raise KeyError(f"unknown built-in data set {name!r}; known: {', '.join(sorted(BUILTINS))}")
    builtin = BUILTINS[name]
    unknown = set(options) - set(builtin.defaults)
    if unknown:
        raise TypeError(f"{name} has no option(s) {', '.join(sorted(unknown))}; options: {', '.join(builtin.defaults)}")
    options = {**builtin.defaults, **options}
    folder = dataset_folder(builtin, data_root(root), options)
    info = read_info(folder)
    if info is not None and not force and _matches(info, builtin, options):
        return folder
    if info is not None and not force:
        log.info("%s was prepared with other options %s; preparing it again", folder, info.get("options"))
    return _prepare_atomically(builtin, folder, options)


def changed_options(builtin: Builtin, options: dict[str, Any]) -> dict[str, Any]:
    """The ``options`` (as ``info.json`` records them) whose values differ from ``builtin``'s defaults."""
    defaults = _jsonable(builtin.defaults)
    return {k: v for k, v in _jsonable(options).items() if v != defaults.get(k)}


def dataset_folder(builtin: Builtin, root: Path, options: dict[str, Any]) -> Path:
    """Where ``builtin`` prepared with ``options`` lives: ``root/<name>`` with the default options,
    else ``root/<name>-<first 8 hex digits of the SHA-1 of the options that differ>``."""
    changed = changed_options(builtin, options)
    if not changed:
        return root / builtin.name
    digest = hashlib.sha1(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]
    return root / f"{builtin.name}-{digest}"


def _matches(info: dict[str, Any], builtin: Builtin, options: dict[str, Any]) -> bool:
    recorded = {**_jsonable(builtin.defaults), **info.get("options", {})}  # options added since: defaults
    return info.get("version") == builtin.version and recorded == _jsonable(options)


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(options, default=str))


def _prepare_atomically(builtin: Builtin, folder: Path, options: dict[str, Any]) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    partial = folder.parent / f".{folder.name}.partial-{token}"
    partial.mkdir()
    started = time.perf_counter()
    log.info("preparing the built-in data set %s into %s (once; later runs read it from there)", builtin.name, folder)
    try:
        info = builtin.prepare(partial, **options)
        info = {"name": builtin.name, "version": builtin.version, "options": _jsonable(options), **info,
                "seconds": round(time.perf_counter() - started, 1)}
        (partial / "info.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        _move_into_place(partial, folder, token)
        log.info("prepared %s in %.0f s", builtin.name, info["seconds"])
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _move_into_place(partial: Path, folder: Path, token: str) -> None:
    """Rename ``partial`` to ``folder``, replacing an older ``folder``; keep a racing winner's."""
    old = folder.parent / f".{folder.name}.old-{token}"
    if folder.exists():
        try:
            folder.rename(old)
        except FileNotFoundError:  # another process moved it away first
            pass
    try:
        partial.rename(folder)
    except OSError:
        if read_info(folder) is None:  # not a finished folder from a racing process either
            raise DataError(f"could not move {partial} into place at {folder}") from None
    shutil.rmtree(old, ignore_errors=True)
