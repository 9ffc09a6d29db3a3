"""fashion_canvas: garments drawn on canvases, each box bounding its garment's pixels, split by source images."""

import json

import numpy as np
import pytest

from tformer.data import DetectionBoxesDataset, write_idx
from tformer.data.fashion_canvas import CANVAS, compose_canvas, prepare_fashion_canvas
from tformer.data.fashion_mnist import FASHION_MNIST_DIR
from tformer.data.images import read_idx


def _garments(n: int, seed: int = 0) -> np.ndarray:
    """Made-up 28x28 garments: a bright blob with a darker rim and a few faint pixels at its edge."""
    rng = np.random.default_rng(seed)
    items = np.zeros((n, 28, 28), dtype=np.uint8)
    for item in items:
        x0, y0 = rng.integers(0, 10, size=2)
        x1, y1 = x0 + rng.integers(8, 18), y0 + rng.integers(8, 18)
        item[y0:y1, x0:x1] = rng.integers(60, 256)
        item[y1 - 1, x0] = 3  # faint: still the garment's
    return items


def _check_boxes_bound_the_pixels(canvas: np.ndarray, boxes: list[list[int]]) -> None:
    covered = np.zeros_like(canvas, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= CANVAS and 0 <= y0 < y1 <= CANVAS
        covered[y0:y1, x0:x1] = True
        inside = canvas[y0:y1, x0:x1] > 0
        # tight: the box's first and last rows and columns each hold a drawn pixel
        assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
    assert not (canvas[~covered] > 0).any()  # every drawn pixel lies in a box


@pytest.mark.parametrize("seed", range(5))
def test_every_box_tightly_bounds_its_garment(seed):
    rng = np.random.default_rng(seed)
    items = _garments(6, seed)
    canvas, boxes, drawn = compose_canvas(items, rng, max_overlap=0.3)
    assert canvas.shape == (CANVAS, CANVAS) and canvas.dtype == np.uint8 and len(boxes) == len(drawn) >= 1
    _check_boxes_bound_the_pixels(canvas, boxes)


@pytest.mark.parametrize("side", [20, 33, 56])
def test_a_garment_alone_gets_the_bounding_box_of_its_pixels(side):
    for item in _garments(4, seed=side):
        alone, (box,), _ = compose_canvas(item[None], np.random.default_rng(side), side, side)
        rows, cols = np.nonzero(alone)
        assert box == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


@pytest.mark.skipif(not (FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(), reason="dataset-fashion-mnist not installed")
def test_real_garments_are_bounded_too():
    images = read_idx(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz")[:60]
    rng = np.random.default_rng(1)
    for start in range(0, 60, 6):
        canvas, boxes, _ = compose_canvas(images[start : start + 6], rng)
        _check_boxes_bound_the_pixels(canvas, boxes)


def test_overlap_stays_within_the_limit():
    rng = np.random.default_rng(3)
    for _ in range(20):
        _, boxes, _ = compose_canvas(_garments(6), rng, max_overlap=0.2)
        for i, a in enumerate(boxes):
            for b in boxes[:i]:
                w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
                smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
                assert max(w, 0) * max(h, 0) <= 0.2 * smaller + 1e-9


@pytest.fixture
def fake_source(tmp_path):
    """Fashion-MNIST's four IDX files, made up: garment i of a file has label i % 10."""
    source = tmp_path / "source"
    source.mkdir()
    for prefix, n in (("train", 30), ("t10k", 20)):
        write_idx(source / f"{prefix}-images-idx3-ubyte.gz", _garments(n))
        write_idx(source / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return source


def test_prepare_writes_manifests_the_detection_reader_reads(tmp_path, fake_source):
    folder = tmp_path / "out"
    folder.mkdir()
    info = prepare_fashion_canvas(folder, train_size=7, valid_size=3, test_size=4, seed=5, source_dir=str(fake_source))
    assert info["splits"] == {"train": 7, "valid": 3, "test": 4}
    for split, count in info["splits"].items():
        data = DetectionBoxesDataset(folder / f"{split}.jsonl", out_of_image="error")
        assert len(data) == count and sum(len(t["boxes"]) for t in data.column("target")) == info["boxes"][split]
        assert {label for t in data.column("target") for label in t["labels"]} <= set(info["classes"])
        assert all(t["width"] == t["height"] == CANVAS for t in data.column("target"))
    again = tmp_path / "again"
    again.mkdir()
    prepare_fashion_canvas(again, train_size=7, valid_size=3, test_size=4, seed=5, source_dir=str(fake_source))
    assert (again / "test.jsonl").read_text() == (folder / "test.jsonl").read_text()  # seeded
    assert (again / "train" / "000003.png").read_bytes() == (folder / "train" / "000003.png").read_bytes()
    first = json.loads((folder / "train.jsonl").read_text().splitlines()[0])
    assert first["image"] == "train/000000.png" and len(first["boxes"]) == len(first["labels"]) >= 1
