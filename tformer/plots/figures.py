"""Figures without pyplot: Agg canvases, saving by suffix, figures as image arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["SUFFIXES", "new_figure", "save_figure", "figure_to_array", "check_output"]

SUFFIXES = (".png", ".svg", ".pdf")


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (no pyplot state, safe in workers and callbacks).

    Args:
        width, height: size in inches.
    Returns:
        The figure, with constrained layout.
    """
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def check_output(path: str | Path) -> Path:
    """An output path whose suffix names a format we write; ``ValueError`` otherwise."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"-o {path}: unknown picture format {path.suffix or '(no suffix)'!r}; use {', '.join(SUFFIXES)}")
    return path


def save_figure(figure: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``figure`` as PNG, SVG or PDF (chosen by the suffix), creating the folder.

    Returns:
        The path written.
    """
    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, format=path.suffix.lower()[1:])
    return path


def figure_to_array(figure: Figure, dpi: int = 80) -> np.ndarray:
    """Render ``figure`` to an (H, W, 3) uint8 RGB array (for TensorBoard)."""
    figure.set_dpi(dpi)
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
