"""The paper's sinusoidal positions (section 3.5) as pictures: the table and its similarities."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ..core.positions import sinusoidal_table
from .figures import new_figure, save_figure

__all__ = ["positions_figure", "plot_positions"]


def positions_figure(d_model: int = 128, length: int = 100) -> Figure:
    """Two panels: PE(position, dimension) and the dot products PE(p) · PE(q) of positions.

    Args:
        d_model: width of the table (any positive integer).
        length: number of positions (any positive integer).
    Returns:
        The figure.
    """
    if d_model < 1 or length < 1:
        raise ValueError(f"--d-model and --length must be positive, got {d_model} and {length}")
    table = sinusoidal_table(length, d_model)  # (L, d)
    similarity = table @ table.T  # (L, L); its value depends only on p - q
    figure = new_figure(12, 5)
    left, right = figure.subplots(1, 2)
    image = left.imshow(table.numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
    left.set(title=f"sinusoidal positions (d_model = {d_model})", xlabel="dimension i", ylabel="position")
    figure.colorbar(image, ax=left, shrink=0.8, label="PE(pos, i)")
    image = right.imshow(similarity.numpy(), cmap="viridis", interpolation="nearest")
    right.set(title="dot product PE(p) · PE(q)", xlabel="position q", ylabel="position p")
    figure.colorbar(image, ax=right, shrink=0.8)
    return figure


def plot_positions(path: str | Path, d_model: int = 128, length: int = 100) -> Path:
    """Write ``positions_figure(d_model, length)`` to ``path`` (.png, .svg or .pdf).

    Returns:
        The path written.
    """
    return save_figure(positions_figure(d_model, length), path)
