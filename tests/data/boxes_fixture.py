"""Tiny detection data written by the tests: grey squares of two brightnesses on black images."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image

SHADES = {"bright": 250, "dim": 110}


def write_boxes(folder: Path, n: int = 12, size: int = 32, seed: int = 0, name: str = "boxes.jsonl") -> Path:
    """``n`` images of 1-2 squares ("bright" or "dim") and their ``detection_boxes`` manifest."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        pixels = np.zeros((size, size), dtype=np.uint8)
        boxes, labels = [], []
        for j in range(1 + i % 2):
            side = rng.randint(size // 4, size // 2)
            # the first square towards the top left, the second towards the bottom right
            x, y = (min(rng.randint(0, size // 2 - side // 2) + j * (size // 2 - 1), size - side) for _ in range(2))
            label = rng.choice(sorted(SHADES))
            pixels[y : y + side, x : x + side] = SHADES[label]
            boxes.append([x, y, x + side, y + side])
            labels.append(label)
        image = f"{name.split('.')[0]}_{i:03d}.png"
        Image.fromarray(pixels).save(folder / image)
        lines.append(json.dumps({"image": image, "boxes": boxes, "labels": labels}))
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path
