"""image_patch: input kinds, channel conversion, bad inputs, position grids and resampling."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from timm.layers import resample_abs_pos_embed

from tformer.tokenizers import ImagePatchTokenizer
from tformer.tokenizers.image import resample_grid_positions, sinusoidal_grid


@pytest.fixture
def grey() -> ImagePatchTokenizer:
    return ImagePatchTokenizer(d_model=16).eval()


@pytest.fixture
def rgb() -> ImagePatchTokenizer:
    return ImagePatchTokenizer(d_model=16, image_size=32, patch_size=8, channels=3, mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3)).eval()


def _array(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def test_prepare_accepts_path_pil_array_tensor(grey, tmp_path):
    pixels = _array(28, 28)
    path = tmp_path / "shoe.png"
    PIL.Image.fromarray(pixels).save(path)
    expected = torch.from_numpy(pixels).float().div(255).sub(0.5).div(0.5)[None]
    for raw in (path, str(path), PIL.Image.fromarray(pixels), pixels, torch.from_numpy(pixels)[None]):
        out = grey.prepare(raw)
        assert out.shape == (1, 28, 28) and out.dtype == torch.float32 and type(out) is torch.Tensor
        torch.testing.assert_close(out, expected)


def test_channels_are_converted_and_images_resized(grey, rgb):
    from_rgb = grey.prepare(_array(56, 40, 3))
    assert from_rgb.shape == (1, 28, 28)
    from_grey = rgb.prepare(_array(32, 32))
    assert from_grey.shape == (3, 32, 32)
    pixel = torch.from_numpy(_array(32, 32)).float().div(255)
    torch.testing.assert_close(from_grey[2], (pixel - 0.6) / 0.3)
    assert rgb.prepare(_array(32, 32, 4)).shape == (3, 32, 32)  # alpha dropped
    assert rgb.prepare(PIL.Image.fromarray(_array(20, 20, 3)).convert("P")).shape == (3, 32, 32)


@pytest.mark.parametrize("channels", [2, 5])
def test_wrong_channel_count_is_a_clear_error(grey, channels):
    with pytest.raises(ValueError, match=f"{channels} channels"):
        grey.prepare(_array(28, 28, channels))


def test_non_image_file_is_named(grey, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png"):
        grey.prepare(path)
    with pytest.raises(ValueError, match="missing.png"):
        grey.prepare(tmp_path / "missing.png")


def test_forward_shapes_size_and_class_token(grey, rgb):
    batch = grey.collate([grey.prepare(_array(28, 28)) for _ in range(2)])
    x, pad_mask = grey(*batch)
    assert x.shape == (2, 17, 16) and not pad_mask.any()
    assert batch.lengths.tolist() == [17, 17] and grey.size(batch.values[0]) == 17
    no_cls = ImagePatchTokenizer(d_model=16, class_token=False)
    assert no_cls(batch.values)[0].shape == (2, 16, 16)
    assert rgb(torch.randn(1, 3, 32, 32))[0].shape == (1, 17, 16)


def test_bad_batch_inputs_are_errors(grey):
    with pytest.raises(ValueError, match="multiple of patch_size"):
        grey(torch.randn(1, 1, 30, 28))
    with pytest.raises(ValueError, match="1, H, W"):
        grey(torch.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match="one size"):
        grey.collate([torch.zeros(1, 28, 28), torch.zeros(1, 14, 28)])


@pytest.mark.parametrize("new_grid", [(6, 6), (2, 5), (4, 4)])
def test_position_resampling_matches_timm(new_grid):
    positions = torch.randn(1, 1 + 16, 24)
    ours = resample_grid_positions(positions, (4, 4), new_grid, n_prefix=1)
    theirs = resample_abs_pos_embed(positions, new_size=list(new_grid), old_size=[4, 4], num_prefix_tokens=1)
    torch.testing.assert_close(ours, theirs)


def test_larger_input_uses_resampled_positions(grey):
    x, pad_mask = grey(torch.randn(2, 1, 42, 35))
    assert x.shape == (2, 1 + 6 * 5, 16) and pad_mask.shape == (2, 31)


def test_sinusoidal_grid_positions():
    table = sinusoidal_grid(3, 4, 16).reshape(3, 4, 16)
    assert torch.equal(table[1, 0, :8], table[1, 3, :8])  # rows in the first half
    assert torch.equal(table[0, 2, 8:], table[2, 2, 8:])  # columns in the second half
    assert not torch.equal(table[0, 0], table[1, 1])
    tokenizer = ImagePatchTokenizer(d_model=16, positions="sinusoidal").eval()
    assert tokenizer.pos_embed is None
    assert tokenizer(torch.randn(1, 1, 28, 28))[0].shape == (1, 17, 16)
    assert tokenizer(torch.randn(1, 1, 56, 28))[0].shape == (1, 33, 16)


def test_a_conv_stem_runs_before_the_patch_embedding():
    plain, stemmed = ImagePatchTokenizer(d_model=16), ImagePatchTokenizer(d_model=16, stem_channels=[4, 6]).eval()
    assert not any(name.startswith("stem.") for name in plain.state_dict())  # old checkpoints still load
    images = torch.randn(2, 1, 28, 28)
    x = images
    for conv, norm in ((stemmed.stem[0], stemmed.stem[1]), (stemmed.stem[3], stemmed.stem[4])):
        x = torch.nn.functional.conv2d(x, conv.weight, padding=1)
        x = torch.nn.functional.gelu(torch.nn.functional.batch_norm(
            x, norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps))
    patches = torch.nn.functional.conv2d(x, stemmed.patch_embed.weight, stemmed.patch_embed.bias, stride=7)
    expected = torch.cat([stemmed.cls_token.expand(2, -1, -1), patches.flatten(2).transpose(1, 2)], 1) + stemmed.pos_embed
    out, mask = stemmed(images)
    assert out.shape == (2, 17, 16) and not mask.any()
    torch.testing.assert_close(out, expected)
    assert stemmed.patch_embed.in_channels == 6
