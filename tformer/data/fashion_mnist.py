"""Fashion-MNIST from the Debian package dataset-fashion-mnist (IDX files, read in place)."""

from __future__ import annotations

from pathlib import Path

from tformer.data.builtin import Builtin, check_split, prepared_folder, read_info, register_builtin
from tformer.data.errors import DataError
from tformer.data.images import FASHION_MNIST_CLASSES, IdxImageDataset, read_idx
from tformer.kinds import IMAGE, LABEL, gives
from tformer.registry import DATASETS

__all__ = ["FASHION_MNIST_DIR", "VALID_SIZE", "prepare_fashion_mnist", "fashion_mnist"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
VALID_SIZE = 5000  # the last 5,000 training images; train keeps the first 55,000
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def prepare_fashion_mnist(folder: Path, source_dir: str = str(FASHION_MNIST_DIR)) -> dict:
    """Check the IDX files and record their paths and split ranges (no copy is made).

    Args:
        folder: the (temporary) output folder; only ``info.json`` is written there.
        source_dir: the folder with the four IDX files.
    Returns:
        The info record: files, split ranges, counts and class names.
    """
    source = Path(source_dir)
    files = {split: [str(source / name) for name in names] for split, names in _FILES.items()}
    for path in (p for pair in files.values() for p in pair):
        if not Path(path).is_file():
            raise DataError(f"{path} not found; install Fashion-MNIST: apt-get install -y dataset-fashion-mnist")
    train_count = len(read_idx(files["train"][1]))
    test_count = len(read_idx(files["test"][1]))
    ranges = {
        "train": (*files["train"], 0, train_count - VALID_SIZE),
        "valid": (*files["train"], train_count - VALID_SIZE, train_count),
        "test": (*files["test"], 0, test_count),
    }
    return {
        "ranges": {split: dict(zip(("images", "labels", "start", "stop"), r)) for split, r in ranges.items()},
        "splits": {split: r[3] - r[2] for split, r in ranges.items()},
        "classes": list(FASHION_MNIST_CLASSES),
    }


register_builtin(Builtin(
    "fashion_mnist", "Fashion-MNIST 28x28 clothing images, 10 classes (dataset-fashion-mnist)",
    prepare_fashion_mnist, {"source_dir": str(FASHION_MNIST_DIR)},
))


@DATASETS.register("fashion_mnist")
@gives(source=IMAGE, target=LABEL)
def fashion_mnist(split: str = "train", root: str | None = None) -> IdxImageDataset:
    """One split of Fashion-MNIST: train 55,000, valid 5,000 (the end of the official train), test 10,000.

    Args:
        split: "train", "valid" or "test".
        root: the data root (see ``tformer.data.builtin.data_root``).
    Returns:
        Items ``{"source": uint8 array (28, 28), "target": class name}``.
    """
    info = read_info(prepared_folder("fashion_mnist", root))
    entry = info["ranges"][check_split(split)]
    return IdxImageDataset(entry["images"], entry["labels"], info["classes"], entry["start"], entry["stop"])
