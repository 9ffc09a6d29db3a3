"""Image augmentation for training (torchvision v2): random crops, flips, TrivialAugment, erasing.

``ImageAugmentations`` is handed to ``DataModule(augment={"source": ...})`` like the waveform
``Augmentations``: it runs on the training split only, in the DataLoader workers, before the
tokenizer's ``prepare``. It turns a raw image (path, PIL image, (H, W) or (H, W, C) array, or
(C, H, W) tensor) into a uint8 (C, H, W) tensor and applies torchvision v2 transforms in order;
their randomness comes from torch's global generator, which the DataLoader seeds per worker and
epoch. A recipe names the transforms by their torchvision class::

    data:
      augment:
        source:
          _target_: tformer.data.image_augment.ImageAugmentations
          steps:
            - {_target_: torchvision.transforms.v2.RandomCrop, size: 28, padding: 2}
            - {_target_: torchvision.transforms.v2.RandomHorizontalFlip}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import PIL.Image
import torch
from torch import Tensor
from torchvision.transforms import v2

__all__ = ["ImageAugmentations", "as_image_tensor"]


def as_image_tensor(raw: Any) -> Tensor:
    """A raw image as a (C, H, W) tensor of its own dtype (uint8 for files, PIL images and byte arrays)."""
    if isinstance(raw, (str, Path)):
        with PIL.Image.open(raw) as image:
            raw = image.copy()
    if not isinstance(raw, (PIL.Image.Image, np.ndarray, Tensor)):
        raise TypeError(f"image augmentation cannot read a {type(raw).__name__}; give a path, PIL image, array or tensor")
    return v2.functional.to_image(raw).as_subclass(Tensor)


class ImageAugmentations:
    """Random image transforms, applied in order to each training image.

    Args:
        steps: torchvision v2 transforms (or any callables of a (C, H, W) tensor); random ones
            draw from torch's global generator.
    """

    def __init__(self, steps: Sequence[Callable[[Tensor], Tensor]]):
        for index, step in enumerate(steps):
            if not callable(step):
                raise TypeError(f"data.augment step {index} is a {type(step).__name__}, not a transform; "
                                f"name a torchvision.transforms.v2 class with _target_")
        self.steps = v2.Compose(list(steps))

    def __call__(self, raw: Any) -> Tensor:
        """The raw image, transformed: a (C, H, W) tensor that the image tokenizer's ``prepare`` reads."""
        return self.steps(as_image_tensor(raw))

    def __repr__(self) -> str:
        return f"ImageAugmentations({self.steps.transforms!r})"
