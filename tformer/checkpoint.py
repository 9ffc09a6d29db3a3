"""What a tformer checkpoint holds beside the weights, and how it is loaded safely.

A checkpoint stores plain data only: registry names and constructor arguments of the task,
its tokenizers and its core, plus the weights and the tokenizers' learned vocabularies. It is
read with ``torch.load(weights_only=True)`` and rebuilt from registered classes alone: nothing
named in it is imported or executed. A tokenizer from a plug-in also records the distribution
that provides it (``{"name": ..., "version": ...}``), so loading without the plug-in says what
to install; checkpoints without that record load as before.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .core import Encoder, EncoderDecoder
from .registry import TASKS, TOKENIZERS, distribution_of

__all__ = ["FORMAT_VERSION", "CheckpointError", "describe", "load", "atomic_write"]

FORMAT_VERSION = 1
KEY = "tformer"
CORES = {"Encoder": Encoder, "EncoderDecoder": EncoderDecoder}
log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A file that is not a checkpoint tformer can load."""


def describe(task: Any) -> dict[str, Any]:
    """Plain data that rebuilds ``task``: registry names and constructor arguments."""
    return {
        "format_version": FORMAT_VERSION,
        "tformer_version": __version__,
        "task": TASKS.name_of(task),
        "options": dict(task.hparams),
        "core": {"class": type(task.core).__name__, "kwargs": dict(task.core.init_kwargs)},
        "source": _tokenizer_spec(task.source),
        "target": _tokenizer_spec(task.target),
        "shared_vocabulary": task.source is task.target,
    }


def _tokenizer_spec(tokenizer: Any) -> dict[str, Any]:
    spec = {"name": TOKENIZERS.name_of(tokenizer), "kwargs": dict(tokenizer.init_kwargs)}
    distribution = distribution_of(tokenizer)  # None for tformer's own tokenizers
    if distribution is not None:
        spec["distribution"] = distribution
    return spec


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
    spec = _spec(checkpoint, path)
    importlib.import_module("tformer.tasks")  # registers the built-in tasks
    state = checkpoint["state_dict"]
    source = _tokenizer(spec["source"], state, "source", path)
    target = source if spec.get("shared_vocabulary") else _tokenizer(spec["target"], state, "target", path)
    if spec["core"]["class"] not in CORES:
        raise CheckpointError(f"{path}: unknown core {spec['core']['class']!r}; known: {', '.join(CORES)}")
    core = CORES[spec["core"]["class"]](**spec["core"]["kwargs"])
    task = TASKS.get(spec["task"])(source=source, target=target, core=core, **spec["options"])
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:  # missing, unexpected or differently shaped weights
        raise CheckpointError(f"{path}: its weights do not fit the model its {KEY!r} entry describes: {error}") from None
    return task.to(map_location).eval() if map_location is not None else task.eval()


def _tokenizer(spec: dict[str, Any], state: dict[str, Any], side: str, path: Path) -> Any:
    # Tokenizers come first: what they learned (vocabulary, classes) sizes the task's layers.
    _check_plugin(spec, side, path)
    tokenizer = TOKENIZERS.build(spec["name"], **spec["kwargs"])
    prefix = f"{side}."
    tokenizer.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return tokenizer


def _check_plugin(spec: dict[str, Any], side: str, path: Path) -> None:
    """Name the plug-in distribution to install when the tokenizer it provided is not registered here."""
    saved = spec.get("distribution")
    if not isinstance(saved, dict) or not isinstance(saved.get("name"), str):
        return  # tformer's own tokenizer, or a checkpoint from before the record
    name, version, tokenizer = saved["name"], saved.get("version"), spec["name"]
    if tokenizer in TOKENIZERS:
        here = distribution_of(TOKENIZERS.get(tokenizer))
        if here is not None and here.get("version") != version:
            log.warning("%s: its %s tokenizer %r was saved with %s %s; this is %s %s",
                        path, side, tokenizer, name, version, here["name"], here["version"])
        return
    where = f"{path}: its {side} tokenizer {tokenizer!r} comes from the plug-in {name} {version}"
    install = f"pip install '{name}=={version}'"
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        raise CheckpointError(f"{where}, which is not installed here; install it ({install})") from None
    raise CheckpointError(f"{where}; the installed {name} {installed} registers no {tokenizer!r} "
                          f"(or failed to load: see the warning above); install the one it was saved with ({install})")


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


def _spec(checkpoint: Any, path: Path) -> dict[str, Any]:
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get(KEY), dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a tformer checkpoint (no {KEY!r} entry); train it with tformer-train")
    spec = checkpoint[KEY]
    version = spec.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {version!r} is newer than this tformer reads ({FORMAT_VERSION}); "
            f"upgrade tformer (this is {__version__}, the checkpoint says {spec.get('tformer_version')})"
        )
    missing = [key for key in ("task", "options", "core", "source", "target") if key not in spec]
    if missing:
        raise CheckpointError(f"{path}: its {KEY!r} entry lacks {', '.join(map(repr, missing))}; the file is damaged")
    _refuse_targets(spec, path, KEY)
    return spec


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
