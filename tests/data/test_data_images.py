"""Image-folder and IDX datasets."""

import numpy as np
import pytest
from PIL import Image

from tformer.data import DataError, DataWarning, IdxImageDataset, ImageFolderDataset, read_idx, write_idx
from tformer.registry import DATASETS


def make_folder(root):
    for name, count in (("cat", 2), ("dog", 3)):
        (root / name / "sub").mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (4, 4), (i * 40, 0, 0)).save(root / name / ("sub" if i else "") / f"{i}.PNG")
    (root / "dog" / "notes.txt").write_text("not an image")
    return root


def test_image_folder(tmp_path):
    root = make_folder(tmp_path / "imgs")
    with pytest.warns(DataWarning, match="skipped 1 non-image"):
        data = DATASETS.build("image_folder", root=str(root))
    assert data.classes == ["cat", "dog"] and len(data) == 5 and data.skipped == 1
    assert data.column("target") == ["cat", "cat", "dog", "dog", "dog"]
    item = data[0]
    assert set(item) == {"source", "target"} and item["target"] == "cat"
    assert isinstance(item["source"], str) and item["source"].endswith(".PNG")
    assert data.size_hints() == {"source": [1.0] * 5, "target": [1.0] * 5}


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder; expected a folder with one sub-folder"):
        ImageFolderDataset(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        ImageFolderDataset(tmp_path / "flat")
    (tmp_path / "flat" / "cls").mkdir()
    with pytest.raises(DataError, match="no image files"):
        ImageFolderDataset(tmp_path / "flat")


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_idx_round_trip(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == array.dtype and back.shape == (2, 3, 4) and np.array_equal(back, array)


def test_idx_header_is_big_endian(tmp_path):
    write_idx(tmp_path / "l.idx", np.array([7, 1], dtype=np.int32))
    raw = (tmp_path / "l.idx").read_bytes()
    assert raw[:8] == bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) and raw[8:12] == bytes([0, 0, 0, 7])


def test_idx_errors(tmp_path):
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    write_idx(tmp_path / "ok.idx", np.zeros((3, 2, 2), dtype=np.uint8))
    (tmp_path / "cut.idx").write_bytes((tmp_path / "ok.idx").read_bytes()[:-1])
    with pytest.raises(DataError, match=r"shape \(3, 2, 2\) needs 12 bytes of data, found 11"):
        read_idx(tmp_path / "cut.idx")


def test_idx_dataset(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 5, 5), dtype=np.uint8)
    write_idx(tmp_path / "img.gz", images)
    write_idx(tmp_path / "lab.gz", np.array([0, 1, 2, 1, 0, 2], dtype=np.uint8))
    data = DATASETS.build("idx_images", images_path=str(tmp_path / "img.gz"), labels_path=str(tmp_path / "lab.gz"),
                          class_names=["a", "b", "c"], start=1, stop=5)
    assert len(data) == 4 and data.column("target") == ["b", "c", "b", "a"]
    item = data[0]
    assert set(item) == {"source", "target"} and item["target"] == "b"
    assert item["source"].dtype == np.uint8 and np.array_equal(item["source"], images[1])
    assert IdxImageDataset(tmp_path / "img.gz", tmp_path / "lab.gz")[1]["target"] == "1"


def test_idx_dataset_mismatch(tmp_path):
    write_idx(tmp_path / "img", np.zeros((3, 2, 2), dtype=np.uint8))
    write_idx(tmp_path / "lab", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match="same N"):
        IdxImageDataset(tmp_path / "img", tmp_path / "lab")
    write_idx(tmp_path / "lab", np.array([0, 1, 5], dtype=np.uint8))
    with pytest.raises(DataError, match="label values 0..5 but 2 class names"):
        IdxImageDataset(tmp_path / "img", tmp_path / "lab", class_names=["x", "y"])
