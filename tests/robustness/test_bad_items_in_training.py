"""Corrupt images in a training run: skipped, and reported in one warning per split that counts
them over every DataLoader worker and every epoch, with no message per item."""

from __future__ import annotations

import logging
import warnings

import pytest

from tests import tiny_data
from tests.tasks.conftest import compose_run
from tformer.cli.train import train
from tformer.data import DataWarning

CORRUPT = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """60 training images with 2 corrupt ones, 4 validation images with 1 corrupt one."""
    root = tmp_path_factory.mktemp("bad_items")
    train_root = tiny_data.image_folder(root / "train", n_per_class=30)
    valid_root = tiny_data.image_folder(root / "valid", n_per_class=2, seed=1)
    bad = [train_root / "dark" / "7.png", train_root / "bright" / "21.png", valid_root / "bright" / "1.png"]
    for path in bad:
        path.write_bytes(CORRUPT)
    return train_root, valid_root, bad


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_images_are_warned_about_once_per_split(folders, workers, tmp_path, caplog):
    train_root, valid_root, bad = folders
    cfg = compose_run(tmp_path, [
        "task=classification", "source=image_patch", "target=label", "data=image_folder",
        f"data.train.root={train_root}", f"data.valid={{_target_: tformer.data.ImageFolderDataset, root: {valid_root}}}",
        "source.image_size=16", "source.patch_size=4", f"data.num_workers={workers}", "data.batch_size=16",
        "trainer.max_steps=-1", "trainer.max_epochs=2", "test=false", "examples=0",
    ])
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        train(cfg)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    (train_warning,) = [m for m in messages if m.startswith("train split")]
    assert "skipped 2 item(s) that could not be prepared: item " in train_warning
    assert f"{bad[0]}: not a readable image" in train_warning and f"{bad[1]}: not a readable image" in train_warning
    (valid_warning,) = [m for m in messages if m.startswith("valid split")]
    assert "skipped 1 item(s)" in valid_warning and str(bad[2]) in valid_warning
    assert len(messages) == 2
    assert not any(".png" in record.getMessage() for record in caplog.records)
