"""Bytes that autograd keeps for the backward pass: a deterministic measure of training memory.

Peak memory on a CPU depends on the allocator and on timing; what the forward pass saves for the
backward pass (activations) does not, so tests and benchmarks compare that: with and without
activation checkpointing, whole or chunked logits.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

__all__ = ["SavedBytes"]


class SavedBytes:
    """Context manager: counts the bytes of the tensors saved for backward inside it.

    Each storage counts once (a tensor saved twice, or several views of one tensor, hold it
    once), whole (a saved view keeps its whole storage alive). Tensors saved inside a checkpointed
    region (``torch.utils.checkpoint``, non-reentrant) are not saved, and not counted.

    Args:
        parameters: storages not to count (a model's weights, which exist anyway).

    Example:
        >>> with SavedBytes(model.parameters()) as saved:
        ...     loss = model(x).sum()
        >>> saved.bytes
    """

    def __init__(self, parameters: Iterable[Tensor] = ()):
        self._ignored = {_key(p) for p in parameters}
        self._storages: dict[tuple, int] = {}
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda saved: saved)

    @property
    def bytes(self) -> int:
        """The bytes saved so far."""
        return sum(self._storages.values())

    def _pack(self, tensor: Tensor) -> Tensor:
        key = _key(tensor)
        if key not in self._ignored:
            self._storages[key] = tensor.untyped_storage().nbytes()
        return tensor

    def __enter__(self) -> "SavedBytes":
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def _key(tensor: Tensor) -> tuple:
    return tensor.device, tensor.untyped_storage().data_ptr()
