"""Model FLOPs of a training step and the tokens of a batch, for throughput and MFU.

The 6 N D rule (Kaplan et al. 2020): a forward pass multiplies and adds once per parameter and
token it acts on (2 FLOPs), the backward pass twice that (4 FLOPs). Each parameter is counted for
the tokens it acts on: an encoder's for the source positions, a decoder's for the target ones.
Attention's score FLOPs and lookups (embeddings, learned positions) are left out, so MFU is
slightly understated; padding is not counted, so a batch that is mostly padding shows a low MFU.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from torch import Tensor, nn

from .core.positions import LearnedPositions

__all__ = ["LOOKUP_TABLES", "flop_parameters", "training_flops", "token_counts"]

LOOKUP_TABLES = (nn.Embedding, LearnedPositions)  # rows are read, not multiplied: no FLOPs


def flop_parameters(*modules: nn.Module) -> int:
    """Trainable parameters of ``modules`` that multiply what they act on, each counted once
    (a weight two modules share counts once); lookup tables (``LOOKUP_TABLES``) do not count.

    Args:
        modules: the modules whose parameters act on the same tokens.
    Returns:
        The number of parameters.
    """
    seen: set[int] = set()
    total = 0
    for module in modules:
        for part in module.modules():
            if isinstance(part, LOOKUP_TABLES):
                continue
            for parameter in part.parameters(recurse=False):
                if parameter.requires_grad and id(parameter) not in seen:
                    seen.add(id(parameter))
                    total += parameter.numel()
    return total


def training_flops(*parts: tuple[int, int | Tensor]) -> int | Tensor:
    """FLOPs of a forward and backward pass: 6 x the sum of parameters x the tokens they act on.

    Args:
        parts: ``(parameters, tokens)`` pairs; tokens may be a 0-d tensor (a sum of batch lengths
            left on the device, so that counting needs no synchronization).
    Returns:
        An int, or a 0-d tensor where some tokens are tensors.
    """
    return 6 * sum(parameters * tokens for parameters, tokens in parts)


def token_counts(batch: Mapping[str, object], fields: Iterable[str]) -> tuple[Tensor, Tensor]:
    """Real and padded tokens of the named fields of a batch, as their ``Batch`` lengths say.

    A field padded to its longest item holds ``B x max(lengths)`` positions (images, all of one
    size, hold no padding). Both counts stay 0-d tensors on the batch's device.

    Args:
        batch: field name -> ``Batch``.
        fields: the fields of tokens (not labels).
    Returns:
        ``(real, padded)`` token counts, padded >= real.
    """
    real = padded = 0
    for name in fields:
        lengths = batch[name].lengths
        real = real + lengths.sum()
        padded = padded + lengths.max() * lengths.numel()
    return real, padded
