"""Pictures of a detection checkpoint: its boxes on an image, and where its object queries look
(each query's cross-attention over the patches beside the box it predicts)."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import PIL.Image
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .attention import select
from .figures import new_figure, save_figure

__all__ = ["boxes_figure", "plot_boxes", "queries_figure", "plot_queries"]

COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#469990", "#9a6324")


def _detector(task: Any) -> Any:
    """``task`` if it detects objects (``DetectionTask.query_attention``); ``ValueError`` naming it otherwise."""
    if not callable(getattr(task, "query_attention", None)):
        raise ValueError(f"tformer-plot boxes and queries draw detection checkpoints (task=detection); this one holds "
                         f"a {type(task).__name__}")
    return task


def _check_file(raw: Any) -> None:
    if isinstance(raw, (str, PathLike)) and not Path(raw).is_file():
        raise FileNotFoundError(f"--input {raw}: no such image file")


def _pixels(raw: Any) -> np.ndarray:
    """An image path, PIL image or array -> an (H, W, 3) uint8 array to draw on."""
    _check_file(raw)
    if isinstance(raw, (str, PathLike)):
        with PIL.Image.open(raw) as image:
            return np.asarray(image.convert("RGB"))
    if isinstance(raw, PIL.Image.Image):
        return np.asarray(raw.convert("RGB"))
    array = np.asarray(raw)
    return np.repeat(array[..., None], 3, axis=-1) if array.ndim == 2 else array


def _draw_box(ax: Axes, box: Sequence[float], colour: str, text: str | None = None) -> None:
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.6))
    if text:
        ax.text(x0, y0, text, color="white", fontsize=7, va="bottom", bbox={"facecolor": colour, "pad": 1, "linewidth": 0})


def boxes_figure(image: np.ndarray, prediction: dict[str, list], classes: Sequence[str] = ()) -> Figure:
    """An image with boxes, each labelled with its class and score.

    Args:
        image: (H, W, 3) uint8 pixels.
        prediction: ``{"boxes": [[x0, y0, x1, y1], ...], "labels": [...], "scores": [...]}`` in its pixels.
        classes: the class names, so that a class keeps its colour from picture to picture.
    """
    height, width = image.shape[:2]
    scale = 6.0 / max(height, width)
    figure = new_figure(max(3.0, width * scale), max(3.0, height * scale) + 0.4)
    ax = figure.add_subplot()
    ax.imshow(image, extent=(0, width, height, 0))
    order = list(classes) or sorted(set(prediction["labels"]))
    for box, label, score in zip(prediction["boxes"], prediction["labels"], prediction["scores"]):
        colour = COLOURS[order.index(label) % len(COLOURS)] if label in order else COLOURS[0]
        _draw_box(ax, box, colour, f"{label} {score:.2f}")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    ax.set_title(f"{len(prediction['boxes'])} object(s)", fontsize=10)
    return figure


def plot_boxes(task: Any, raw: Any, path: str | PathLike, score_threshold: float | None = None) -> Path:
    """Draw the boxes ``task`` finds on one image (a path, PIL image or array) into ``path``.

    Args:
        task: a loaded detection task.
        raw: the image.
        path: output picture (.png, .svg or .pdf).
        score_threshold: the least score drawn; None: the task's.
    Returns:
        The path written.
    """
    task, image = _detector(task), _pixels(raw)
    prediction = task.predict([raw], score_threshold=score_threshold)[0]
    return save_figure(boxes_figure(image, prediction, task.fields["target"].classes), path)


def queries_figure(maps: dict[str, Any], count: int = 4, layer: int = -1) -> Figure:
    """The ``count`` best-scoring queries, each a column: its box on the image above, its
    cross-attention over the patches (mean over heads) below.

    Args:
        maps: ``DetectionTask.query_attention`` of one image.
        count: how many queries (the highest scores first).
        layer: the decoder layer whose attention is drawn (negative counts from the end).
    """
    attention, found = maps["attention"], maps["detections"]
    chosen_layer = select(attention.size(0), layer, "layer")[0]
    queries = found[:, 4].argsort(descending=True)[: max(1, min(count, found.size(0)))].tolist()
    image = maps["image"].float()
    image = ((image - image.min()) / (image.max() - image.min()).clamp(min=1e-6)).permute(1, 2, 0).numpy()
    image = image.squeeze(-1) if image.shape[-1] == 1 else image
    height, width = image.shape[:2]
    extent = (0, width, height, 0)
    figure = new_figure(1.2 + 2.3 * len(queries), 5.4)
    axes = figure.subplots(2, len(queries), squeeze=False)
    for column, query in enumerate(queries):
        box = (found[query, :4] * found.new_tensor([width, height, width, height])).tolist()
        label, score = maps["labels"][query], float(found[query, 4])
        top, bottom = axes[0, column], axes[1, column]
        top.imshow(image, cmap="gray", extent=extent)
        _draw_box(top, box, COLOURS[column % len(COLOURS)], f"{label} {score:.2f}")
        top.set_title(f"query {query}", fontsize=9)
        heat = attention[chosen_layer, query]
        bottom.imshow(image, cmap="gray", extent=extent)
        bottom.imshow(heat.numpy(), cmap="inferno", alpha=0.6, extent=extent, interpolation="nearest")
        _draw_box(bottom, box, COLOURS[column % len(COLOURS)])
        for ax in (top, bottom):
            ax.set_xlim(0, width)
            ax.set_ylim(height, 0)
            ax.set_axis_off()
    figure.suptitle(f"decoder layer {chosen_layer}: each query's box (top) and its cross-attention over the "
                    "patches, mean over heads (bottom)", fontsize=10)
    return figure


def plot_queries(task: Any, raw: Any, path: str | PathLike, count: int = 4, layer: int = -1) -> Path:
    """Draw where the best-scoring object queries of ``task`` look on one image into ``path``.

    Args:
        task: a loaded detection task.
        raw: the image (a path, PIL image or array).
        path: output picture (.png, .svg or .pdf).
        count: how many queries.
        layer: the decoder layer (negative counts from the end).
    Returns:
        The path written.
    """
    task = _detector(task)
    _check_file(raw)
    return save_figure(queries_figure(task.query_attention(raw), count, layer), path)
