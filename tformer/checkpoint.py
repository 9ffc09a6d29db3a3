"""What a tformer checkpoint holds beside the weights, and how it is loaded safely.

A checkpoint stores plain data only: registry names and constructor arguments of the task,
its fields' tokenizers, its core, objectives and generator, plus the weights and the
tokenizers' learned vocabularies. It is read with ``torch.load(weights_only=True)`` and rebuilt
from registered classes alone: nothing named in it is imported or executed. A part from a
plug-in also records the distribution that provides it (``{"name": ..., "version": ...}``), so
loading without the plug-in says what to install. Checkpoints of format 1 (one source, one
target) are upgraded on load (``checkpoint_v1``).
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .checkpoint_parts import PartError, build_part, part_spec
from .checkpoint_v1 import upgrade
from .registry import CORES, GENERATORS, OBJECTIVES, TASKS, TOKENIZERS

__all__ = ["FORMAT_VERSION", "CheckpointError", "describe", "load", "atomic_write"]

FORMAT_VERSION = 2
KEY = "tformer"
SPEC_KEYS = ("task", "options", "core", "fields", "objectives")


class CheckpointError(ValueError):
    """A file that is not a checkpoint tformer can load."""


def describe(task: Any) -> dict[str, Any]:
    """Plain data that rebuilds ``task``: registry names and constructor arguments of its parts."""
    return {
        "format_version": FORMAT_VERSION,
        "tformer_version": __version__,
        "task": TASKS.name_of(task),
        "options": dict(task.hparams),
        "core": part_spec(CORES, task.core),
        "fields": _field_specs(task.fields),
        "objectives": {name: part_spec(OBJECTIVES, objective) for name, objective in task.objectives.items()},
        "generator": part_spec(GENERATORS, task.generator) if task.generator is not None else None,
    }


def _field_specs(fields: Any) -> dict[str, dict[str, Any]]:
    # A tokenizer serving several fields (a shared vocabulary) is described once.
    specs, seen = {}, {}
    for name, tokenizer in fields.items():
        specs[name] = {"same_as": seen[id(tokenizer)]} if id(tokenizer) in seen else part_spec(TOKENIZERS, tokenizer)
        seen.setdefault(id(tokenizer), name)
    return specs


def load(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> Any:
    """Rebuild the task saved in ``path``, in eval mode, ready to ``predict``.

    Args:
        path: a ``.ckpt`` file, or a run directory (its ``checkpoints/last.ckpt``).
        map_location: device for the weights (``"cpu"``, ``"cuda"``, ...).
    """
    path = _checkpoint_path(Path(path))
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unpickling refuses anything but tensors and plain data
        raise CheckpointError(_unreadable(path, error)) from None
    spec, state = _spec(checkpoint, path)
    importlib.import_module("tformer.tasks")  # registers the built-in tasks and their parts
    try:
        task = _build_task(spec, state, path)
    except PartError as error:
        raise CheckpointError(str(error)) from None
    try:
        task.load_state_dict(state)
    except RuntimeError as error:  # missing, unexpected or differently shaped weights
        raise CheckpointError(f"{path}: its weights do not fit the model its {KEY!r} entry describes: {error}") from None
    return task.to(map_location).eval() if map_location is not None else task.eval()


def _build_task(spec: dict[str, Any], state: dict[str, Any], path: Path) -> Any:
    fields = _fields(spec["fields"], state, path)
    parts = {
        "fields": fields,
        "core": build_part(CORES, spec["core"], "core", path),
        "objectives": {name: build_part(OBJECTIVES, s, f"objective {name!r}", path) for name, s in spec["objectives"].items()},
    }
    if spec.get("generator"):
        parts["generator"] = build_part(GENERATORS, spec["generator"], "generator", path)
    try:
        return TASKS.get(spec["task"])(**spec["options"], **parts)
    except KeyError as error:
        raise CheckpointError(f"{path}: {error.args[0] if error.args else error}") from None


def _fields(specs: dict[str, Any], state: dict[str, Any], path: Path) -> dict[str, Any]:
    # Tokenizers come first: what they learned (vocabulary, classes) sizes the task's layers.
    fields: dict[str, Any] = {}
    for name, spec in specs.items():
        if "same_as" in spec:
            fields[name] = fields[spec["same_as"]]
            continue
        tokenizer = fields[name] = build_part(TOKENIZERS, spec, f"{name} tokenizer", path)
        prefix = f"fields.{name}."
        tokenizer.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return fields


def _checkpoint_path(path: Path) -> Path:
    if path.is_dir():
        candidate = path / "checkpoints" / "last.ckpt"
        if not candidate.is_file():
            raise CheckpointError(f"{path} is a folder without checkpoints/last.ckpt; pass the .ckpt file")
        return candidate
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return path


def _unreadable(path: Path, error: Exception) -> str:
    # torch wraps what its weights-only unpickler refused in a long message; keep its reason line.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    refused = next((line for line in lines if "GLOBAL" in line), None)
    if refused:  # a pickled object (code) inside
        return (f"{path}: refused: the file holds pickled Python objects ({refused}); tformer.load unpickles only "
                "tensors and plain data (torch.load weights_only=True), as tformer checkpoints hold")
    marker = next((i for i, line in enumerate(lines) if line.endswith("WeightsUnpickler error:")), None)
    reason = lines[marker + 1] if marker is not None and marker + 1 < len(lines) else str(error)
    return f"{path}: not a checkpoint torch can read ({type(error).__name__}: {reason})"


def _spec(checkpoint: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checkpoint's ``tformer`` entry and weights, checked, in the current format."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get(KEY), dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a tformer checkpoint (no {KEY!r} entry); train it with tformer-train")
    spec, state = checkpoint[KEY], checkpoint["state_dict"]
    version = spec.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {version!r} is newer than this tformer reads ({FORMAT_VERSION}); "
            f"upgrade tformer (this is {__version__}, the checkpoint says {spec.get('tformer_version')})"
        )
    _refuse_targets(spec, path, KEY)
    if version == 1:
        missing = [key for key in ("task", "options", "core", "source", "target") if key not in spec]
        if missing:
            raise CheckpointError(f"{path}: its {KEY!r} entry lacks {', '.join(map(repr, missing))}; the file is damaged")
        spec, state = upgrade(spec, state)
    missing = [key for key in SPEC_KEYS if key not in spec]
    if missing:
        raise CheckpointError(f"{path}: its {KEY!r} entry lacks {', '.join(map(repr, missing))}; the file is damaged")
    return spec, state


def _refuse_targets(value: Any, path: Path, where: str) -> None:
    # Hydra would build an object from a mapping with "_target_"; a checkpoint may not ask for one.
    if isinstance(value, dict):
        if "_target_" in value:
            raise CheckpointError(
                f"{path}: {where} names an object to build (_target_={value['_target_']!r}); a checkpoint holds "
                "only registry names and plain arguments, so tformer.load refuses it"
            )
        for key, item in value.items():
            _refuse_targets(item, path, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _refuse_targets(item, path, f"{where}[{index}]")


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
