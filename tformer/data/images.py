"""Image datasets: class folders (torchvision's ImageFolder layout) and IDX files (MNIST format)."""

from __future__ import annotations

import gzip
import os
import warnings
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, has_file_allowed_extension

from tformer.data.datasets import RawDataset
from tformer.data.errors import DataError, DataWarning, require_path
from tformer.kinds import IMAGE, LABEL
from tformer.registry import DATASETS

__all__ = ["ImageFolderDataset", "IdxImageDataset", "read_idx", "write_idx", "FASHION_MNIST_CLASSES"]

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
# IDX type codes (http://yann.lecun.com/exdb/mnist/): all multi-byte values are big-endian.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@DATASETS.register("image_folder")
class ImageFolderDataset(RawDataset):
    """Images in class folders, ``root/<class name>/<any depth>/<image>``; items
    ``{"source": file path, "target": class name}``.

    Files without an image extension are skipped and counted in one warning.

    Args:
        root: the folder holding one sub-folder per class.
        extensions: the file endings that count as images (case-insensitive).
    """

    fields = {"source": IMAGE, "target": LABEL}

    def __init__(self, root: str | PathLike, extensions: Sequence[str] = IMG_EXTENSIONS):
        self.root = require_path(root, "a folder with one sub-folder of images per class", folder=True)
        try:
            self.classes, _ = find_classes(str(self.root))
        except FileNotFoundError:
            raise DataError(f"{self.root}: no class folders; expected root/<class name>/<images>") from None
        pairs, skipped = [], []
        for name in self.classes:
            for path in _files_under(self.root / name):
                if has_file_allowed_extension(path, tuple(extensions)):
                    pairs.append((path, name))
                else:
                    skipped.append(path)
        if skipped:
            warnings.warn(f"{self.root}: skipped {len(skipped)} non-image file(s), e.g. {skipped[0]}", DataWarning)
        if not pairs:
            raise DataError(f"{self.root}: no image files ({', '.join(extensions)}) in the class folders")
        super().__init__({"source": [path for path, _ in pairs], "target": [name for _, name in pairs]})
        self.skipped = len(skipped)

    def size_hints(self) -> dict[str, list[float]]:
        """One unit per image and per label: every image becomes the same number of patches."""
        return {"source": [1.0] * len(self), "target": [1.0] * len(self)}


def _files_under(folder: Path) -> list[str]:
    files = []
    for parent, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        files.extend(os.path.join(parent, name) for name in sorted(names))
    return files


def read_idx(path: str | PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic (0, 0, type, ndim), big-endian dims, data.

    Args:
        path: the file.
    Returns:
        The array with the file's shape, in native byte order.
    """
    path = require_path(path, "an IDX file (MNIST format, optionally gzipped)")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX shape {shape} needs {expected} bytes of data, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ".gz".

    Args:
        path: the file to write.
        array: uint8, int8, int16, int32, float32 or float64 values.
    """
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(np.dtype(_IDX_TYPES[code])).tobytes()
    Path(path).write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)


@DATASETS.register("idx_images")
class IdxImageDataset(RawDataset):
    """Images and labels from IDX files; items ``{"source": uint8 array (H, W), "target": label name}``.

    Args:
        images_path: the IDX file of images, shape (N, H, W) or (N, H, W, C).
        labels_path: the IDX file of integer labels, shape (N,).
        class_names: the name of each label value; ``str(value)`` when None.
        start: the first item used (to carve a validation split).
        stop: one past the last item used; the end when None.
    """

    fields = {"source": IMAGE, "target": LABEL}  # arrays of pixels are images

    def __init__(
        self,
        images_path: str | PathLike,
        labels_path: str | PathLike,
        class_names: Sequence[str] | None = None,
        start: int = 0,
        stop: int | None = None,
    ):
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim not in (3, 4) or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"{images_path} holds images of shape {images.shape} and {labels_path} labels of shape "
                f"{labels.shape}; expected (N, H, W) images and (N,) labels with the same N"
            )
        names = [str(v) for v in range(int(labels.max(initial=0)) + 1)] if class_names is None else list(class_names)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
            raise DataError(f"{labels_path}: label values {labels.min()}..{labels.max()} but {len(names)} class names")
        self.class_names = names
        super().__init__({"source": images[start:stop], "target": [names[v] for v in labels[start:stop].tolist()]})

    def size_hints(self) -> dict[str, list[float]]:
        """One unit per image and per label."""
        return {"source": [1.0] * len(self), "target": [1.0] * len(self)}
