"""Position information: the paper's sinusoids (any length) and learned positions."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["sinusoidal_table", "SinusoidalPositions", "LearnedPositions"]


def sinusoids(positions: Tensor, d_model: int) -> Tensor:
    """The paper's vectors for (T,) integer ``positions`` (a tensor on any device) -> (T, d_model)
    float32, computed in float64 (``sinusoidal_table`` is this for consecutive positions)."""
    angles = positions.double()[:, None] / torch.pow(
        10000.0, torch.arange(0, d_model, 2, dtype=torch.float64, device=positions.device) / d_model)
    table = torch.zeros(positions.numel(), d_model, dtype=torch.float64, device=positions.device)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table.float()


def _steps(offset: Tensor, length: int) -> Tensor:
    # positions offset .. offset + length - 1 for a 0-d tensor offset (a static decoding cache's)
    return offset + torch.arange(length, device=offset.device)


def sinusoidal_table(length: int, d_model: int, offset: int = 0) -> Tensor:
    """The paper's table: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(same).

    Args:
        length: number of positions.
        d_model: width; an odd width gets one more sine than cosine column.
        offset: first position (for step-wise decoding).

    Returns:
        (length, d_model) float32 table.
    """
    return sinusoids(torch.arange(offset, offset + length), d_model)


class SinusoidalPositions(nn.Module):
    """Adds fixed sinusoidal positions; works for any length, cached and grown on demand.

    Args:
        d_model: width of the vectors the positions are added to.
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model
        self.register_buffer("table", sinusoidal_table(512, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int | Tensor = 0) -> Tensor:
        # x: (B, T, d_model); a 0-d tensor offset (static decoding) never leaves the device
        if isinstance(offset, Tensor):
            return x + sinusoids(_steps(offset, x.size(1)), self.d_model).to(x.dtype)
        end = offset + x.size(1)
        if end > self.table.size(0):
            self.table = sinusoidal_table(max(end, 2 * self.table.size(0)), self.d_model).to(x.device)
        return x + self.table[offset:end].to(x.dtype)


class LearnedPositions(nn.Module):
    """Adds a learned vector per position, up to ``max_len`` positions.

    Args:
        d_model: width.
        max_len: number of positions learned; a longer input is an error that names the limit.
    """

    def __init__(self, d_model: int, max_len: int = 1024):
        super().__init__()
        self.max_len = max_len
        self.weight = nn.Parameter(torch.randn(max_len, d_model) * 0.02)

    def forward(self, x: Tensor, offset: int | Tensor = 0) -> Tensor:
        if isinstance(offset, Tensor):  # static decoding: the tasks keep their outputs within max_len
            return x + self.weight.index_select(0, _steps(offset, x.size(1))).to(x.dtype)
        end = offset + x.size(1)
        if end > self.max_len:
            raise ValueError(
                f"sequence of {end} positions is longer than the {self.max_len} learned positions "
                f"(max_len); shorten the input or use sinusoidal positions"
            )
        return x + self.weight[offset:end].to(x.dtype)


def embedding_scale(d_model: int) -> float:
    """The paper multiplies embeddings by sqrt(d_model) (section 3.4)."""
    return math.sqrt(d_model)
