"""A checkpoint's parts as plain data: a registry name, constructor arguments and, for a part a
plug-in provides, its distribution; and the parts rebuilt from that data alone."""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path
from typing import Any

from .registry import Registry, distribution_of

__all__ = ["PartError", "part_spec", "build_part"]

log = logging.getLogger("tformer.checkpoint")


class PartError(ValueError):
    """A part a checkpoint names cannot be built here (checkpoint.CheckpointError wraps it)."""


def part_spec(registry: Registry, part: Any) -> dict[str, Any]:
    """``{"name": ..., "kwargs": ...}`` of a registered part, with ``"distribution"`` (name,
    version) when a plug-in, not tformer, provides it."""
    spec = {"name": registry.name_of(part), "kwargs": dict(part.init_kwargs)}
    distribution = distribution_of(part)  # None for tformer's own parts
    if distribution is not None:
        spec["distribution"] = distribution
    return spec


def build_part(registry: Registry, spec: dict[str, Any], what: str, path: Path) -> Any:
    """The part ``spec`` describes, built from the registry.

    Args:
        registry: where its name is registered.
        spec: what ``part_spec`` wrote.
        what: how messages name it ("source tokenizer", "objective ctc").
        path: the checkpoint, for messages.
    Raises:
        PartError: the name is unknown here (naming the plug-in to install when the checkpoint
            recorded one), or the arguments do not fit its constructor.
    """
    _check_plugin(registry, spec, what, path)
    try:
        return registry.build(spec["name"], **spec.get("kwargs", {}))
    except (KeyError, TypeError) as error:
        message = error.args[0] if error.args else error
        raise PartError(f"{path}: its {what}: {message}") from None


def _check_plugin(registry: Registry, spec: dict[str, Any], what: str, path: Path) -> None:
    """Name the plug-in distribution to install when the part it provided is not registered here."""
    saved = spec.get("distribution")
    if not isinstance(saved, dict) or not isinstance(saved.get("name"), str):
        return  # tformer's own part, or a checkpoint from before the record
    name, version, part = saved["name"], saved.get("version"), spec["name"]
    if part in registry:
        here = distribution_of(registry.get(part))
        if here is not None and here.get("version") != version:
            log.warning("%s: its %s %r was saved with %s %s; this is %s %s",
                        path, what, part, name, version, here["name"], here["version"])
        return
    where = f"{path}: its {what} {part!r} comes from the plug-in {name} {version}"
    install = f"pip install '{name}=={version}'"
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        raise PartError(f"{where}, which is not installed here; install it ({install})") from None
    raise PartError(f"{where}; the installed {name} {installed} registers no {part!r} "
                    f"(or failed to load: see the warning above); install the one it was saved with ({install})")
