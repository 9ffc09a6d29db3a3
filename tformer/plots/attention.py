"""Attention maps as pictures: head-by-layer grids of matrices (a line of text drawn above its own),
and [CLS] overlays for other images."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from ..tokenizers import ImageLayout
from .figures import new_figure, save_figure
from .weights import AttentionMaps, attention_for_input

__all__ = ["attention_figure", "plot_attention", "select"]

MAX_TICKS = 40  # more labels than this are thinned to every k-th


def select(n: int, wanted: int | None, name: str) -> list[int]:
    """Indices ``[wanted]`` (negative counts from the end) or all ``n``; ``ValueError`` if out of range."""
    if wanted is None:
        return list(range(n))
    if not -n <= wanted < n:
        raise ValueError(f"--{name} {wanted} is out of range: the model has {n} {name}s (0..{n - 1}, or -1 for the last)")
    return [wanted % n]


def _ticks(axis: Any, labels: Sequence[str], which: str, show: bool, offset: float = 0.0) -> None:
    # offset: where label i's cell centre lies past i (0.5 when the cells span [i, i + 1])
    step = max(1, -(-len(labels) // MAX_TICKS))
    positions = list(range(0, len(labels), step))
    size = 8 if len(labels) <= 20 else 6
    shown = [labels[i] for i in positions] if show else []
    if which == "x":
        axis.set_xticks([p + offset for p in positions], shown, rotation=90, fontsize=size)
    else:
        axis.set_yticks([p + offset for p in positions], shown, fontsize=size)


def _matrix_grid(panel: SubFigure, weights: list[Tensor], layers: list[int], heads: list[int],
                 rows: Sequence[str], cols: Sequence[str], title: str, xlabel: str = "") -> None:
    # weights[l]: (H, T, S); rows label the T queries, cols the S keys.
    axes = panel.subplots(len(layers), len(heads), squeeze=False)
    for i, layer in enumerate(layers):
        for j, head in enumerate(heads):
            ax = axes[i, j]
            image = ax.imshow(weights[layer][head].numpy(), cmap="viridis", vmin=0, vmax=1,
                              aspect="auto", interpolation="nearest")
            ax.set_title(f"layer {layer} · head {head}", fontsize=9)
            _ticks(ax, cols, "x", i == len(layers) - 1)
            if i == len(layers) - 1:
                ax.set_xlabel(xlabel, fontsize=8)
            _ticks(ax, rows, "y", j == 0)
    panel.colorbar(image, ax=axes, shrink=0.6, label="weight")
    panel.suptitle(title, fontsize=11, fontweight="bold")


def _grey(layout: ImageLayout) -> Any:
    # the prepared image scaled to [0, 1], (H, W) or (H, W, 3), for imshow
    image = layout.image.float()
    image = ((image - image.min()) / (image.max() - image.min()).clamp(min=1e-6)).permute(1, 2, 0).numpy()
    return image.squeeze(-1) if image.shape[-1] == 1 else image


def _line_matrix_grid(panel: SubFigure, weights: list[Tensor], layers: list[int], heads: list[int],
                      rows: Sequence[str], cols: Sequence[str], layout: ImageLayout, title: str, xlabel: str = "") -> None:
    # A line of text read as one row of strips: each (T, S) matrix with the line drawn above it,
    # strip over strip, so a query's row points at the part of the line it reads.
    line, (T, S) = _grey(layout), weights[layers[0]].shape[-2:]
    band = max(1.5, 0.15 * T)  # rows of the axes the line takes
    axes = panel.subplots(len(layers), len(heads), squeeze=False)
    for i, layer in enumerate(layers):
        for j, head in enumerate(heads):
            ax = axes[i, j]
            ax.imshow(line, cmap="gray", extent=(0, S, 0, -band), aspect="auto", interpolation="antialiased")
            image = ax.imshow(weights[layer][head].numpy(), cmap="viridis", vmin=0, vmax=1, extent=(0, S, T, 0),
                              aspect="auto", interpolation="nearest")
            ax.set_ylim(T, -band)
            ax.set_title(f"layer {layer} · head {head}", fontsize=9)
            _ticks(ax, cols, "x", i == len(layers) - 1, offset=0.5)
            if i == len(layers) - 1:
                ax.set_xlabel(xlabel, fontsize=8)
            _ticks(ax, rows, "y", j == 0, offset=0.5)
    panel.colorbar(image, ax=axes, shrink=0.6, label="weight")
    panel.suptitle(title, fontsize=11, fontweight="bold")


def _cls_attention(weights: Tensor, layout: ImageLayout) -> Tensor:
    # (H, P + N, P + N) -> (H, rows, cols): from [CLS], or the mean over queries without one.
    received = weights[:, 0, layout.n_prefix:] if layout.n_prefix else weights.mean(dim=1)
    return received.reshape(weights.size(0), *layout.grid)


def _overlay_grid(panel: SubFigure, maps: AttentionMaps, layers: list[int], heads: list[int], title: str) -> None:
    layout = maps.layout
    image = _grey(layout)
    height, width = image.shape[:2]
    axes = panel.subplots(len(layers), len(heads), squeeze=False)
    for i, layer in enumerate(layers):
        heat = _cls_attention(maps.encoder[layer], layout)
        for j, head in enumerate(heads):
            ax = axes[i, j]
            extent = (0, width, height, 0)  # the same for both, so the patch grid lies on the pixels
            ax.imshow(image, cmap="gray", extent=extent)
            ax.imshow(heat[head].numpy(), cmap="inferno", alpha=0.55, extent=extent, interpolation="nearest")
            ax.set_title(f"layer {layer} · head {head}", fontsize=9)
            ax.set_axis_off()
    source = "[CLS]" if layout.n_prefix else "all patches (mean; no [CLS])"
    panel.suptitle(f"{title}\nfrom {source} over the patches, each panel scaled to its maximum",
                   fontsize=11, fontweight="bold")


def _sections(maps: AttentionMaps, layer: int | None, heads: list[int]) -> list[tuple[int, Callable[[SubFigure], None]]]:
    # (rows of panels, draw(subfigure)) per attention kind; each kind selects within its own depth.
    src = maps.input_labels
    encoder = select(len(maps.encoder), layer, "layer")
    # one row of patches (a line of text): matrices under the line; other images: overlays on them
    line = maps.layout is not None and maps.layout.grid[0] == 1
    matrices = partial(_line_matrix_grid, layout=maps.layout) if line else _matrix_grid
    if maps.layout is not None and not line:
        draw = partial(_overlay_grid, maps=maps, layers=encoder, heads=heads, title="encoder self-attention")
    else:
        draw = partial(matrices, weights=maps.encoder, layers=encoder, heads=heads, rows=src, cols=src,
                       title="encoder self-attention", xlabel=maps.input_unit)
    sections = [(len(encoder), draw)]
    if maps.decoder:
        decoder = select(len(maps.decoder), layer, "layer")
        common = dict(layers=decoder, heads=heads)
        sections.append((len(decoder), partial(_matrix_grid, weights=maps.decoder, rows=maps.target_inputs,
                                               cols=maps.target_inputs, title="decoder self-attention (rows: decoder inputs)",
                                               **common)))
        sections.append((len(decoder), partial(matrices, weights=maps.cross, rows=maps.target_outputs, cols=src,
                                               title="decoder cross-attention (rows: produced tokens)",
                                               xlabel=maps.input_unit, **common)))
    return sections


def attention_figure(maps: AttentionMaps, layer: int | None = None, head: int | None = None) -> Figure:
    """Every selected layer and head of every attention kind in ``maps``, one section each.

    Args:
        maps: from ``collect_attention``.
        layer, head: draw only this layer / head (negative counts from the end); ``None``: all.
    Returns:
        The figure.
    """
    heads = select(maps.encoder[0].size(0), head, "head")
    sections = _sections(maps, layer, heads)
    longest = max(len(maps.input_labels), len(maps.target_inputs))
    panel = 2.6 if longest <= 16 or (maps.layout is not None and maps.layout.grid[0] > 1) else 3.4
    rows = [n for n, _ in sections]
    figure = new_figure(max(6.0, 1.2 + panel * len(heads)), sum(0.9 + panel * n for n in rows) + 0.4)
    subfigures = figure.subfigures(len(sections), 1, height_ratios=[0.9 + panel * n for n in rows], squeeze=False)
    for subfigure, (_, draw) in zip(subfigures[:, 0], sections):
        draw(subfigure)
    if maps.output is not None:
        shown = maps.output if len(maps.output) <= 80 else maps.output[:77] + "..."
        figure.suptitle(f"output: {shown!r}", fontsize=12)
    return figure


def plot_attention(task: Any, raw: str, path: str | Path, layer: int | None = None, head: int | None = None,
                   beam_size: int | None = None) -> Path:
    """Draw the attention of ``task`` on one raw input of its input field (text, image path or
    audio path) into ``path``.

    Args:
        task: a loaded task (``tformer.load``).
        raw: the input, as ``task.predict`` takes it.
        path: output picture (.png, .svg or .pdf).
        layer, head: restrict to one layer / head.
        beam_size: search width for the decoded output; ``None``: the task's own.
    Returns:
        The path written.
    """
    maps = attention_for_input(task, raw, beam_size)
    return save_figure(attention_figure(maps, layer, head), path)
