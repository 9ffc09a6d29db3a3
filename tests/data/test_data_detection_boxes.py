"""detection_boxes: a JSON-lines manifest of images with boxes; boxes outside the image clipped or
refused, malformed lines named by file and line."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tformer.data import DataError, DataWarning, DetectionBoxesDataset
from tformer.data.boxes import image_size

from .boxes_fixture import write_boxes


def _manifest(tmp_path, *rows, size=(40, 30)):
    Image.fromarray(np.zeros(size[::-1], dtype=np.uint8)).save(tmp_path / "a.png")
    path = tmp_path / "m.jsonl"
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def test_items_hold_the_image_path_and_its_boxes_with_the_size_from_the_header(tmp_path):
    path = write_boxes(tmp_path, n=3, size=32)
    data = DetectionBoxesDataset(path)
    assert len(data) == 3 and data.fields == {"source": "image", "target": "boxes"}
    item = data[1]
    assert item["source"] == str(tmp_path / "boxes_001.png")
    first = json.loads(path.read_text().splitlines()[1])
    assert item["target"] == {"boxes": [[float(v) for v in b] for b in first["boxes"]], "labels": first["labels"],
                              "width": 32, "height": 32}
    assert data.size_hints()["target"] == [1.0, 2.0, 1.0]


def test_a_box_reaching_outside_is_clipped_with_one_warning_and_one_wholly_outside_dropped(tmp_path):
    path = _manifest(tmp_path, {"image": "a.png", "boxes": [[-5, 2, 10, 40], [1, 1, 5, 5]], "labels": ["x", 7]},
                     {"image": "a.png", "boxes": [[50, 0, 60, 10]], "labels": ["x"]})
    with pytest.warns(DataWarning, match=r"m\.jsonl: boxes reaching outside their image: clipped 1 box\(es\) on lines 1; "
                                         r"dropped 1 box\(es\) on lines 2"):
        data = DetectionBoxesDataset(path)
    assert data[0]["target"]["boxes"] == [[0.0, 2.0, 10.0, 30.0], [1.0, 1.0, 5.0, 5.0]]
    assert data[0]["target"]["labels"] == ["x", "7"]  # labels are names
    assert data[1]["target"] == {"boxes": [], "labels": [], "width": 40, "height": 30}


def test_a_box_reaching_outside_is_refused_naming_file_line_and_box(tmp_path):
    path = _manifest(tmp_path, {"image": "a.png", "boxes": [[1, 1, 5, 5]], "labels": ["x"]},
                     {"image": "a.png", "boxes": [[1, 1, 5, 5], [30, 20, 41, 25]], "labels": ["x", "y"]})
    with pytest.raises(DataError, match=r"m\.jsonl:2: box 1 \[30, 20, 41, 25\] reaches outside the 40x30 image "
                                        r"\(out_of_image='clip' clips it to the image\)"):
        DetectionBoxesDataset(path, out_of_image="error")


@pytest.mark.parametrize("line, problem", [
    ("{not json", r"not JSON"),
    ({"boxes": [], "labels": []}, r'no "image" path'),
    ({"image": "b.png", "boxes": [], "labels": []}, r"image .*b\.png not found"),
    ({"image": "a.png", "boxes": [[1, 2, 3, 4]], "labels": []}, r'"boxes" and "labels" must be lists of one length'),
    ({"image": "a.png", "boxes": [[1, 2, 3]], "labels": ["x"]}, r"box 0 is \[1, 2, 3\]; a box is \[x0, y0, x1, y1\]"),
    ({"image": "a.png", "boxes": [[5, 2, 3, 4]], "labels": ["x"]}, r"box 0 \[5, 2, 3, 4\] is empty or reversed"),
    ({"image": "a.png", "boxes": [[1, 2, 3, 4]], "labels": [None]}, r"label 0 is None"),
    ({"image": "a.png", "boxes": [], "labels": [], "width": 0, "height": 5}, r'"width" and "height" must both be positive'),
])
def test_a_malformed_line_is_named_by_file_and_line(tmp_path, line, problem):
    path = _manifest(tmp_path, {"image": "a.png", "boxes": [], "labels": []}, line)
    with pytest.raises(DataError, match=rf"m\.jsonl:2: {problem}.*on_bad_line='skip'"):
        DetectionBoxesDataset(path)
    with pytest.warns(DataWarning, match=r"m\.jsonl: 1 line\(s\) skipped .* at lines 2"):
        assert len(DetectionBoxesDataset(path, on_bad_line="skip")) == 1


def test_wrong_options_name_the_choices(tmp_path):
    path = _manifest(tmp_path, {"image": "a.png", "boxes": [], "labels": []})
    with pytest.raises(ValueError, match=r"out_of_image='drop' is not allowed; choose one of 'clip', 'error'"):
        DetectionBoxesDataset(path, out_of_image="drop")


def test_image_size_of_every_kind_of_image(tmp_path):
    Image.fromarray(np.zeros((30, 40), dtype=np.uint8)).save(tmp_path / "a.png")
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    assert image_size(tmp_path / "a.png") == image_size(str(tmp_path / "a.png")) == (40, 30)
    assert image_size(pixels) == image_size(pixels[..., 0]) == image_size(Image.fromarray(pixels)) == (40, 30)
    assert image_size(torch.zeros(1, 30, 40)) == (40, 30)
    with pytest.raises(ValueError, match="nope.png: not a readable image"):
        image_size(tmp_path / "nope.png")
