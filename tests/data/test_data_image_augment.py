"""Image augmentation: torchvision steps on raw images, against their definitions, training split only."""

from __future__ import annotations

import pickle

import numpy as np
import PIL.Image
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torchvision.transforms import v2

from tformer.cli import CONFIG_DIR
from tformer.data import DataModule, RawDataset
from tformer.data.image_augment import ImageAugmentations, as_image_tensor
from tformer.tokenizers import ImagePatchTokenizer, LabelTokenizer


def _pixels(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def test_every_raw_form_becomes_the_same_uint8_image(tmp_path):
    pixels = _pixels()
    path = tmp_path / "shoe.png"
    PIL.Image.fromarray(pixels).save(path)
    expected = torch.from_numpy(pixels)[None]
    for raw in (path, str(path), PIL.Image.fromarray(pixels), pixels, torch.from_numpy(pixels)[None]):
        image = as_image_tensor(raw)
        assert image.dtype == torch.uint8 and type(image) is torch.Tensor and torch.equal(image, expected)
    with pytest.raises(TypeError, match="cannot read a list"):
        as_image_tensor([1, 2])


def test_a_padded_random_crop_is_a_shift_of_at_most_the_padding():
    pixels = torch.from_numpy(_pixels())[None]
    padded = torch.nn.functional.pad(pixels, (2, 2, 2, 2))
    shifts = [padded[:, r:r + 28, c:c + 28] for r in range(5) for c in range(5)]
    augment = ImageAugmentations([v2.RandomCrop(28, padding=2)])
    torch.manual_seed(0)
    seen = set()
    for _ in range(40):
        out = augment(pixels.numpy()[0])
        matches = [i for i, shifted in enumerate(shifts) if torch.equal(out, shifted)]
        assert matches, "the crop is not a shift of the zero-padded image"
        seen.add(matches[0])
    assert len(seen) > 5  # the offset is drawn afresh


def test_steps_apply_in_order_and_a_flip_mirrors_columns():
    pixels = torch.from_numpy(_pixels())[None]
    flipped = ImageAugmentations([v2.RandomHorizontalFlip(p=1.0)])(pixels)
    assert torch.equal(flipped, pixels.flip(-1))
    erased = ImageAugmentations([v2.RandomHorizontalFlip(p=1.0), v2.RandomErasing(p=1.0, value=0)])(pixels)
    assert (erased == 0).sum() > (pixels.flip(-1) == 0).sum() and erased.dtype == torch.uint8
    with pytest.raises(TypeError, match="data.augment step 1 is a str"):
        ImageAugmentations([v2.RandomHorizontalFlip(), "flip"])


def test_only_training_images_are_augmented(tmp_path):
    images = [_pixels(seed) for seed in range(4)]
    raw = RawDataset({"source": images, "target": ["shirt", "shoe", "bag", "coat"]})
    tokenizer = ImagePatchTokenizer(d_model=8)
    augment = ImageAugmentations([v2.RandomHorizontalFlip(p=1.0)])
    data = DataModule(raw, valid=raw, test=raw, batch_size=4, num_workers=0, augment={"source": augment})
    data.attach({"source": tokenizer, "target": LabelTokenizer(classes=["shirt", "shoe", "bag", "coat"])})
    clean = torch.stack([tokenizer.prepare(image) for image in images])
    for loader in (data.val_dataloader(), data.test_dataloader()):
        assert torch.equal(next(iter(loader))["source"].values, clean)
    trained = next(iter(data.train_dataloader()))["source"].values  # shuffled
    assert sorted(next(i for i in range(4) if torch.equal(item, clean[i].flip(-1))) for item in trained) == [0, 1, 2, 3]


def test_a_recipe_names_torchvision_steps_and_they_travel_to_workers():
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[
            "experiment=vit_fashion_mnist", "run_dir=/tmp/unused",
            "+data.augment.source._target_=tformer.data.image_augment.ImageAugmentations",
            "+data.augment.source.steps=[{_target_: torchvision.transforms.v2.RandomHorizontalFlip, p: 1.0}]",
        ])
    augment = instantiate(cfg.data.augment, _convert_="all")["source"]
    copy = pickle.loads(pickle.dumps(augment))
    pixels = torch.from_numpy(_pixels())[None]
    assert torch.equal(copy(pixels), pixels.flip(-1))
