"""Objects on images: a JSON-lines manifest of images with their boxes and labels (``detection_boxes``).

Each line is ``{"image": "photos/1.png", "boxes": [[x0, y0, x1, y1], ...], "labels": ["cat", ...]}``
in pixels (x to the right, y down, x1 > x0, y1 > y0; an image may hold no boxes), optionally with
``"width"`` and ``"height"``, otherwise read from the image file's header. Relative image paths
resolve against the manifest's folder. A box reaching outside its image is clipped to it (one
warning counts them; a box wholly outside is dropped) or refused naming file and line
(``out_of_image``); a malformed line is refused naming file and line, or skipped and counted
(``on_bad_line``).
"""

from __future__ import annotations

import json
import math
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
from torch import Tensor

from tformer.data.datasets import RawDataset
from tformer.data.errors import BadLines, DataError, DataWarning, check_choice, read_lines, require_path
from tformer.kinds import BOXES, IMAGE
from tformer.registry import DATASETS

__all__ = ["DetectionBoxesDataset", "image_size", "OUT_OF_IMAGE"]

OUT_OF_IMAGE = ("clip", "error")
_EXPECTED = 'one JSON object per line, {"image": path, "boxes": [[x0, y0, x1, y1], ...], "labels": [...]}'


def image_size(raw: Any) -> tuple[int, int]:
    """(width, height) of an image: a path (read from its header), a PIL image, an (H, W) or
    (H, W, C) array, or a (C, H, W) tensor."""
    if isinstance(raw, (str, PathLike)):
        try:
            with PIL.Image.open(raw) as image:
                return image.size
        except (OSError, ValueError) as error:
            raise ValueError(f"{raw}: not a readable image ({error})") from error
    if isinstance(raw, PIL.Image.Image):
        return raw.size
    if isinstance(raw, Tensor):
        return int(raw.shape[-1]), int(raw.shape[-2])
    if isinstance(raw, np.ndarray) and raw.ndim in (2, 3):
        return int(raw.shape[1]), int(raw.shape[0])
    raise TypeError(f"cannot tell the size of a {type(raw).__name__}; give a path, PIL image, array or tensor")


@DATASETS.register("detection_boxes")
class DetectionBoxesDataset(RawDataset):
    """Images with labelled boxes, from a JSON-lines manifest (see the module docstring).

    Items ``{"source": image path, "target": {"boxes": [[x0, y0, x1, y1], ...], "labels": [...],
    "width": W, "height": H}}``, labels as strings.

    Args:
        path: the ``.jsonl`` manifest.
        out_of_image: "clip" (clip to the image, with one warning; drop a box wholly outside) or
            "error" (refuse the line, naming file and line).
        on_bad_line: "error" (refuse a malformed line naming file and line) or "skip" (counted).
    """

    fields = {"source": IMAGE, "target": BOXES}

    def __init__(self, path: str | PathLike, out_of_image: str = "clip", on_bad_line: str = "error"):
        self.path = require_path(path, "a JSON-lines manifest, " + _EXPECTED)
        self.out_of_image = check_choice("out_of_image", out_of_image, OUT_OF_IMAGE)
        bad = BadLines(str(self.path), check_choice("on_bad_line", on_bad_line, ("error", "skip")))
        self.clipped: dict[str, list[int]] = {"clipped": [], "dropped": []}  # line numbers, once per box
        sources, targets = [], []
        for number, line in enumerate(read_lines(self.path), start=1):
            if not line.strip():
                continue
            try:
                source, target = self._parse(json.loads(line), number)
            except json.JSONDecodeError as error:
                bad.add(number, f"not JSON ({error.msg})")
            except _BadLine as error:
                bad.add(number, str(error))
            else:
                sources.append(source)
                targets.append(target)
        super().__init__({"source": sources, "target": targets})
        bad.warn()
        self.bad_lines = bad.count
        self._warn_clipped()

    def _parse(self, row: Any, number: int) -> tuple[str, dict[str, Any]]:
        if not isinstance(row, dict) or not isinstance(row.get("image"), str):
            raise _BadLine('no "image" path (expected ' + _EXPECTED + ")")
        image = self.path.parent / Path(row["image"]).expanduser()
        boxes, labels = row.get("boxes", []), row.get("labels", [])
        if not isinstance(boxes, list) or not isinstance(labels, list) or len(boxes) != len(labels):
            raise _BadLine(f'"boxes" and "labels" must be lists of one length, got {_brief(boxes)} and {_brief(labels)}')
        if not image.is_file():
            raise _BadLine(f"image {image} not found")
        width, height = self._size(row, image)
        kept_boxes, kept_labels, changed = [], [], []
        for index, (box, label) in enumerate(zip(boxes, labels)):
            if not isinstance(label, (str, int)) or isinstance(label, bool):
                raise _BadLine(f"label {index} is {label!r}; labels are class names (strings) or integers")
            inside = self._box(box, index, width, height, number)
            if inside != box:
                changed.append("dropped" if inside is None else "clipped")
            if inside is not None:
                kept_boxes.append(inside)
                kept_labels.append(str(label))
        for what in changed:  # counted once the whole line is read
            self.clipped[what].append(number)
        return str(image), {"boxes": kept_boxes, "labels": kept_labels, "width": width, "height": height}

    def _size(self, row: dict[str, Any], image: Path) -> tuple[int, int]:
        if "width" not in row and "height" not in row:
            try:
                return image_size(image)
            except ValueError as error:
                raise _BadLine(str(error)) from None
        width, height = row.get("width"), row.get("height")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
            raise _BadLine(f'"width" and "height" must both be positive integers (pixels), got {width!r} and {height!r}')
        return width, height

    def _box(self, box: Any, index: int, width: int, height: int, number: int) -> list[float] | None:
        """The box within the image, None if it lies wholly outside (clip), or ``_BadLine``."""
        if not (isinstance(box, list) and len(box) == 4 and all(_finite(v) for v in box)):
            raise _BadLine(f"box {index} is {_brief(box)}; a box is [x0, y0, x1, y1], four numbers in pixels")
        x0, y0, x1, y1 = (float(v) for v in box)
        if x1 <= x0 or y1 <= y0:
            raise _BadLine(f"box {index} {box} is empty or reversed; a box is [x0, y0, x1, y1] with x1 > x0 and y1 > y0")
        inside = [min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height)]
        if inside == [x0, y0, x1, y1]:
            return inside
        if self.out_of_image == "error":
            raise DataError(f"{self.path}:{number}: box {index} {box} reaches outside the {width}x{height} image "
                            "(out_of_image='clip' clips it to the image)")
        return inside if inside[2] > inside[0] and inside[3] > inside[1] else None

    def _warn_clipped(self) -> None:
        parts = [f"{what} {len(lines)} box(es) on lines {', '.join(map(str, sorted(set(lines))[:5]))}"
                 + (", ..." if len(set(lines)) > 5 else "") for what, lines in self.clipped.items() if lines]
        if parts:
            warnings.warn(f"{self.path}: boxes reaching outside their image: {'; '.join(parts)} "
                          "(clipped to the image; dropped: wholly outside it; out_of_image='error' refuses them)",
                          DataWarning, stacklevel=3)

    def size_hints(self) -> dict[str, list[float]]:
        """One unit per image (every image becomes the same number of patches), boxes per target."""
        return {"source": [1.0] * len(self), "target": [float(len(t["boxes"])) for t in self.column("target")]}


class _BadLine(ValueError):
    """What is wrong with one manifest line (BadLines adds the file and line)."""


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _brief(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
