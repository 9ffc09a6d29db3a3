"""Checkpoint averaging (section 6.1 of the paper: the mean of the last N checkpoints' parameters)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from .checkpoint import KEY, CheckpointError, atomic_write

__all__ = ["find_checkpoints", "average_checkpoints", "save_checkpoint"]

_STEP = re.compile(r"step=?(\d+)")


def _step_of(path: Path) -> tuple[int, float]:
    # Sort key for files in a run: the step in the file name, then the modification time.
    match = _STEP.search(path.stem)
    return (int(match.group(1)) if match else -1, path.stat().st_mtime)


def _folder_checkpoints(folder: Path) -> list[Path]:
    # A run directory or its checkpoints/ folder; last.ckpt and best-*.ckpt repeat a step checkpoint,
    # so they are left out.
    folder = folder / "checkpoints" if (folder / "checkpoints").is_dir() else folder
    files = [p for p in folder.glob("*.ckpt") if p.name != "last.ckpt" and not p.name.startswith((".", "best"))]
    if not files:
        files = [p for p in folder.glob("last.ckpt")]
    if not files:
        raise CheckpointError(f"{folder}: no .ckpt files to average")
    return sorted(files, key=_step_of)


def find_checkpoints(inputs: Sequence[str | os.PathLike], last: int | None = None) -> list[Path]:
    """The checkpoint files named by ``inputs``, oldest first, and of those the newest ``last``.

    Args:
        inputs: run directories (their ``checkpoints/*.ckpt`` but ``last.ckpt``) and .ckpt files.
        last: keep the newest ``last`` checkpoints; ``None`` keeps all.
    Returns:
        Paths, ordered by the step in their file names (folders) or as given (files).
    """
    if last is not None and last < 1:
        raise ValueError(f"--last must be at least 1, got {last}")
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += _folder_checkpoints(item)
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such checkpoint file or run directory")
    return paths[-last:] if last is not None else paths


def _load(path: Path) -> dict[str, Any]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # read as summed
    except Exception as error:  # unpickling refuses anything but tensors and plain data
        raise CheckpointError(f"{path}: not a loadable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(checkpoint, dict) or KEY not in checkpoint or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a tformer checkpoint (no {KEY!r} entry)")
    return checkpoint


def _spec(checkpoint: dict[str, Any]) -> dict[str, Any]:
    # What must agree between averaged checkpoints: the model, not the library version that wrote it.
    return {k: v for k, v in checkpoint[KEY].items() if k != "tformer_version"}


def _check_same_model(reference: dict[str, Any], other: dict[str, Any], names: tuple[Path, Path]) -> None:
    first, second = names
    differ = f"cannot average {first} and {second}:"
    if _spec(reference) != _spec(other):
        keys = sorted(k for k in _spec(reference).keys() | _spec(other).keys() if _spec(reference).get(k) != _spec(other).get(k))
        raise CheckpointError(f"{differ} their models differ ({', '.join(keys)}); average checkpoints of one run")
    a, b = reference["state_dict"], other["state_dict"]
    if a.keys() != b.keys():
        missing = sorted(a.keys() ^ b.keys())
        raise CheckpointError(f"{differ} different parameters ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
    for name, value in a.items():
        if isinstance(value, Tensor) != isinstance(b[name], Tensor):
            raise CheckpointError(f"{differ} {name} is a tensor in one and not in the other")
        if isinstance(value, Tensor) and (value.shape != b[name].shape or value.dtype != b[name].dtype):
            raise CheckpointError(f"{differ} {name} is {tuple(value.shape)} {value.dtype} vs {tuple(b[name].shape)} {b[name].dtype}")
        if not isinstance(value, Tensor) and value != b[name]:
            raise CheckpointError(f"{differ} {name} differs (another vocabulary or label set: not the same run)")


def average_checkpoints(paths: Sequence[str | os.PathLike]) -> dict[str, Any]:
    """The mean of the floating-point parameters and buffers of ``paths``, in the newest's checkpoint.

    Integer and boolean tensors and the tokenizers' extra state (vocabularies) are taken from the
    newest checkpoint (the last of ``paths``); everything but ``state_dict`` is the newest's too.
    Sums are kept in float64, so averaging copies of one checkpoint gives it back bit for bit.

    Args:
        paths: checkpoint files of one model, oldest first.
    Returns:
        A checkpoint dict that ``torch.save`` writes and ``tformer.load`` reads.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no checkpoints to average")
    newest = _load(paths[-1])
    state = newest["state_dict"]
    sums = {k: v.double() for k, v in state.items() if isinstance(v, Tensor) and v.is_floating_point()}
    for path in paths[:-1]:
        other = _load(path)
        _check_same_model(newest, other, (paths[-1], path))
        for name, total in sums.items():
            total += other["state_dict"][name].double()
        del other
    for name, total in sums.items():
        state[name] = (total / len(paths)).to(state[name].dtype)
    newest["averaged_from"] = [str(p) for p in paths]
    return newest


def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` through a temporary file and a rename, so ``path`` is never half-written."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(path, buffer.getvalue())
    return Path(path)
