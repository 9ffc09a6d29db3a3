"""Fashion-MNIST canvases for object detection: 1-6 garments at random places and sizes on a 128x128
grey canvas, each with its tight box and class, written as PNG files and ``detection_boxes`` manifests.

Training canvases draw from Fashion-MNIST's 60,000 training images; valid and test from its test
images (the first and second 5,000), so no garment of a test canvas was seen in training. A
garment is scaled to ``min_side``-``max_side`` pixels, placed where it overlaps an earlier one by
at most ``max_overlap`` (intersection over the smaller box) and drawn over the canvas by the
brighter pixel; its box bounds its non-zero pixels after scaling.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import PIL.Image

from tformer.data.boxes import DetectionBoxesDataset
from tformer.data.builtin import Builtin, check_split, prepared_folder, register_builtin
from tformer.data.errors import DataError
from tformer.data.fashion_mnist import FASHION_MNIST_DIR
from tformer.data.images import FASHION_MNIST_CLASSES, read_idx
from tformer.kinds import BOXES, IMAGE, gives
from tformer.registry import DATASETS

__all__ = ["CANVAS", "prepare_fashion_canvas", "fashion_canvas", "compose_canvas"]

CANVAS = 128  # canvas side in pixels
MAX_TRIES = 30  # placements tried per garment before it is left out
_SOURCES = {  # split -> (IDX files of images and labels, the share of their images it draws from)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 0.0, 1.0),
    "valid": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 0.0, 0.5),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 0.5, 1.0),
}


def _overlap(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> float:
    """Intersection of two [x0, y0, x1, y1) boxes over the smaller one's area."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
    return width * height / smaller


def compose_canvas(items: np.ndarray, rng: np.random.Generator, min_side: int = 20, max_side: int = 56,
                   max_overlap: float = 0.3) -> tuple[np.ndarray, list[list[int]], list[int]]:
    """Draw ``items`` (K, 28, 28) uint8 garments onto one canvas.

    Args:
        items: the garments, in drawing order.
        rng: the random generator of sizes and places.
        min_side, max_side: the side a garment is scaled to, drawn uniformly.
        max_overlap: the most of a box (the smaller of two) another box may cover.
    Returns:
        The (CANVAS, CANVAS) uint8 canvas, the boxes [x0, y0, x1, y1] (pixel edges: x1, y1 one past
        the last non-zero column and row) and the indices of the garments drawn (the first always is).
    """
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    boxes, drawn = [], []
    for index, item in enumerate(items):
        side = int(rng.integers(min_side, max_side + 1))
        scaled = np.asarray(PIL.Image.fromarray(item).resize((side, side), PIL.Image.BILINEAR))
        rows, cols = np.nonzero(scaled)
        if rows.size == 0:
            continue
        tight = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)  # within the patch
        for _ in range(MAX_TRIES):
            x, y = (int(v) for v in rng.integers(0, CANVAS - side + 1, size=2))
            box = (x + tight[0], y + tight[1], x + tight[2], y + tight[3])
            if all(_overlap(box, other) <= max_overlap for other in boxes):
                break
        else:
            continue
        np.maximum(canvas[y : y + side, x : x + side], scaled, out=canvas[y : y + side, x : x + side])
        boxes.append(box)
        drawn.append(index)
    return canvas, [list(b) for b in boxes], drawn


def _write_split(folder: Path, split: str, count: int, images: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator, max_items: int) -> int:
    """Write ``count`` canvases as ``<split>/<n>.png`` and ``<split>.jsonl``; returns the boxes written."""
    (folder / split).mkdir()
    lines, n_boxes = [], 0
    for n in range(count):
        picks = rng.integers(0, len(images), size=int(rng.integers(1, max_items + 1)))
        canvas, boxes, drawn = compose_canvas(images[picks], rng)
        name = f"{split}/{n:06d}.png"
        PIL.Image.fromarray(canvas).save(folder / name, compress_level=1)
        classes = [FASHION_MNIST_CLASSES[int(labels[picks[i]])] for i in drawn]
        lines.append(json.dumps({"image": name, "boxes": boxes, "labels": classes, "width": CANVAS, "height": CANVAS}))
        n_boxes += len(boxes)
    (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return n_boxes


def prepare_fashion_canvas(folder: Path, train_size: int = 20000, valid_size: int = 500, test_size: int = 1000,
                           seed: int = 0, max_items: int = 6, source_dir: str = str(FASHION_MNIST_DIR)) -> dict:
    """Compose the canvases of every split into ``folder`` (see the module docstring).

    Args:
        folder: the (temporary) output folder.
        train_size, valid_size, test_size: canvases per split.
        seed: the seed of every split's garments, sizes and places.
        max_items: the most garments on one canvas (at least one each).
        source_dir: the folder with Fashion-MNIST's four IDX files.
    Returns:
        The info record: split counts, boxes per split and the class names.
    """
    sizes = {"train": train_size, "valid": valid_size, "test": test_size}
    counts, boxes = {}, {}
    for number, (split, (images_file, labels_file, start, stop)) in enumerate(_SOURCES.items()):
        paths = [Path(source_dir) / name for name in (images_file, labels_file)]
        if not all(path.is_file() for path in paths):
            raise DataError(f"{paths[0]} not found; install Fashion-MNIST: apt-get install -y dataset-fashion-mnist")
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        part = slice(round(start * len(images)), round(stop * len(images)))
        images, labels = images[part], labels[part]
        rng = np.random.default_rng([seed, number])
        boxes[split] = _write_split(folder, split, sizes[split], images, labels, rng, max_items)
        counts[split] = sizes[split]
    return {"splits": counts, "boxes": boxes, "classes": list(FASHION_MNIST_CLASSES), "canvas": CANVAS}


register_builtin(Builtin(
    "fashion_canvas", "128x128 canvases of 1-6 Fashion-MNIST garments with their boxes, for detection",
    prepare_fashion_canvas,
    {"train_size": 20000, "valid_size": 500, "test_size": 1000, "seed": 0, "source_dir": str(FASHION_MNIST_DIR)},
))


@DATASETS.register("fashion_canvas")
@gives(source=IMAGE, target=BOXES)
def fashion_canvas(split: str = "train", root: str | None = None, train_size: int = 20000, valid_size: int = 500,
                   test_size: int = 1000, seed: int = 0) -> DetectionBoxesDataset:
    """One split of the Fashion-MNIST canvases, prepared on first use (about 20 s).

    Args:
        split: "train", "valid" or "test".
        root: the data root (see ``tformer.data.builtin.data_root``).
        train_size, valid_size, test_size: canvases per split (other sizes: a folder of their own).
        seed: the seed of the canvases.
    Returns:
        Items ``{"source": PNG path, "target": {"boxes", "labels", "width", "height"}}``.
    """
    folder = prepared_folder("fashion_canvas", root, train_size=train_size, valid_size=valid_size,
                             test_size=test_size, seed=seed)
    return DetectionBoxesDataset(folder / f"{check_split(split)}.jsonl")
