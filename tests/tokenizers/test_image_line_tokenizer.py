"""image_line: any image -> grey (1, 32, W) -> strips, against the formulas it follows."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from tformer.core.positions import sinusoidal_table
from tformer.tokenizers import ImageLineTokenizer

D = 16


def _expected_width(height: int, width: int, line: int = 32, strip: int = 8) -> int:
    # scaled to the line's height keeping the aspect ratio, then padded to whole strips
    return math.ceil(round(width * line / height) / strip) * strip


@pytest.mark.parametrize("shape", [(32, 64), (32, 61), (20, 90), (48, 40), (64, 1000), (7, 3)])
def test_prepare_scales_to_height_32_and_pads_to_whole_strips(shape):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    prepared = ImageLineTokenizer(D).prepare(pixels)
    assert prepared.shape == (1, 32, _expected_width(*shape)) and prepared.dtype == torch.float32


def test_white_and_black_normalize_to_plus_and_minus_one_and_padding_repeats_the_last_column():
    pixels = np.full((32, 61), 255, dtype=np.uint8)
    pixels[:, :30] = 0
    pixels[5, -1] = 0  # a dark pixel in the last column: the padding repeats it
    prepared = ImageLineTokenizer(D).prepare(pixels)[0]  # (32, 64)
    assert prepared[:, :30].eq(-1).all() and prepared[:, 30:60].eq(0).sum() == 0
    assert prepared[:, 30:60].max() == 1.0
    torch.testing.assert_close(prepared[:, 61:], prepared[:, 60:61].expand(32, 3), atol=0, rtol=0)


def test_path_pil_array_and_tensor_read_alike_and_transparency_is_white(tmp_path):
    rgb = np.zeros((24, 100, 3), dtype=np.uint8)
    rgb[:, 50:] = (200, 40, 90)
    Image.fromarray(rgb).save(tmp_path / "line.png")
    tokenizer = ImageLineTokenizer(D)
    reference = tokenizer.prepare(Image.fromarray(rgb).convert("L"))
    for raw in (str(tmp_path / "line.png"), tmp_path / "line.png", Image.fromarray(rgb)):
        torch.testing.assert_close(tokenizer.prepare(raw), reference, atol=1 / 127.5, rtol=0)  # rounding of grey
    torch.testing.assert_close(tokenizer.prepare(torch.from_numpy(rgb).permute(2, 0, 1)), tokenizer.prepare(rgb))
    text = np.zeros((32, 64, 4), dtype=np.uint8)
    text[8:24, 8:24, 3] = 255  # black ink on nothing
    prepared = tokenizer.prepare(Image.fromarray(text, "RGBA"))[0]
    assert prepared[0, 0] == 1.0 and prepared[16, 16] == -1.0  # laid on white


def test_collate_and_forward_follow_the_strips_formula():
    tokenizer = ImageLineTokenizer(D).eval()
    items = [tokenizer.prepare(np.full((32, w), 128, dtype=np.uint8)) for w in (80, 24, 56)]
    batch = tokenizer.collate(items)
    assert batch.values.shape == (3, 80, 32) and batch.lengths.tolist() == [80, 24, 56]
    x, pad_mask = tokenizer(*batch)
    assert x.shape == (3, 10, D)
    assert (~pad_mask).sum(1).tolist() == [10, 3, 7] and pad_mask[1, 3:].all() and not pad_mask[1, :3].any()
    # each position is the linear map of its 32 x 8 strip plus the paper's sinusoid for its index
    weight, bias = tokenizer.patch_embed.weight.reshape(D, -1), tokenizer.patch_embed.bias
    strips = items[0][0].reshape(32, 10, 8).permute(1, 0, 2).reshape(10, -1)  # (S, 32 * 8)
    expected = strips @ weight.T + bias + sinusoidal_table(10, D)
    torch.testing.assert_close(x[0], expected, atol=1e-5, rtol=1e-5)
    for i, item in enumerate(items):
        torch.testing.assert_close(tokenizer.batch_item(batch.values, batch.lengths, i), item, atol=0, rtol=0)
        assert tokenizer.size(item) == tokenizer.positions_of(item) == item.shape[-1] // 8


@pytest.mark.parametrize("shape, message", [
    ((40, 9), r"line\.png: 9x40 pixels \(width x height\) is narrower than one strip: scaled to a height of 32 it is 7 "
              r"pixels wide; the smallest accepted is 8x32 pixels \(one strip at height 32\), or any image at least "
              r"0\.25 times as wide as it is high \(10x40 pixels at this height\)"),
    ((0, 50), r"an empty image \(50x0 pixels, width x height\); the smallest accepted is 8x32 pixels"),
])
def test_an_image_smaller_than_one_strip_names_itself_and_the_smallest_size(shape, message, tmp_path):
    tokenizer = ImageLineTokenizer(D)
    pixels = np.zeros(shape, dtype=np.uint8)
    if 0 in shape:
        with pytest.raises(ValueError, match=r"^image: " + message):
            tokenizer.prepare(pixels)
        return
    Image.fromarray(pixels).save(tmp_path / "line.png")
    with pytest.raises(ValueError, match=message):
        tokenizer.prepare(tmp_path / "line.png")
    tokenizer.prepare(np.zeros((40, 10), dtype=np.uint8))  # the size it names is accepted


def test_what_prediction_and_pictures_ask():
    tokenizer = ImageLineTokenizer(D, patch_width=4)
    prepared = tokenizer.prepare(np.zeros((32, 20), dtype=np.uint8))
    assert tokenizer.file_suffixes[:2] == (".png", ".jpg") and tokenizer.varies_in_length
    assert tokenizer.position_unit == "strip (4 px wide)"
    assert tokenizer.position_labels(prepared, 5) == ["0", "4", "8", "12", "16"]
    layout = tokenizer.image_layout(prepared)
    assert layout.grid == (1, 5) and layout.n_prefix == 0 and layout.image is not None
    with pytest.raises(ValueError, match=r"expected \(batch, width, 32\) pixel columns, got \(2, 1, 32, 20\)"):
        tokenizer(torch.zeros(2, 1, 32, 20), torch.tensor([20, 20]))


@pytest.mark.parametrize("patch_width, stem, covered", [(4, [8, 16, 24], (4, 1)), (8, [8, 16], (8, 2)), (6, [8, 8], (8, 3))])
def test_a_stem_keeps_one_position_per_strip_and_is_shift_equivariant_by_whole_strips(patch_width, stem, covered):
    torch.manual_seed(0)
    tokenizer = ImageLineTokenizer(D, patch_width=patch_width, stem_channels=stem).eval()
    assert tokenizer.patch_embed.kernel_size == covered and tokenizer.patch_embed.in_channels == stem[-1]
    line = torch.rand(1, 32, 40 * patch_width)
    shifted = torch.cat([torch.rand(1, 32, patch_width), line[..., :-patch_width]], dim=-1)  # one strip to the right
    batch = tokenizer.collate([tokenizer.prepare(line), tokenizer.prepare(shifted)])
    x, pad_mask = tokenizer(*batch)
    assert x.shape == (2, 40, D) and not pad_mask.any()
    plain = x - sinusoidal_table(40, D)  # the strip vectors before their positions
    # away from both ends (the stem's reach is under 4 strips), strip j of the line is strip j + 1 of the shifted one
    torch.testing.assert_close(plain[1, 5:35], plain[0, 4:34], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(plain[0, 5:35], plain[0, 4:34], atol=1e-3)  # and the strips do differ


def test_a_stem_the_height_cannot_halve_often_enough_is_refused():
    with pytest.raises(ValueError, match=r"stem_channels=\[8, 8, 8, 8, 8, 8\]: 6 stages halve the height 6 times, "
                                         r"so height=32 must be divisible by 64"):
        ImageLineTokenizer(D, stem_channels=[8] * 6)


def test_a_line_reads_the_same_alone_and_beside_a_longer_one():
    # the stem's convolutions reach past a line's end: there they see zeros in any batch, as alone
    torch.manual_seed(0)
    tokenizer = ImageLineTokenizer(D, patch_width=4, stem_channels=[8, 16, 24]).eval()
    short, long = tokenizer.prepare(torch.rand(1, 32, 36)), tokenizer.prepare(torch.rand(1, 32, 100))
    alone, _ = tokenizer(*tokenizer.collate([short]))
    beside, pad_mask = tokenizer(*tokenizer.collate([short, long]))
    assert alone.shape == (1, 9, D) and pad_mask[0].tolist() == [False] * 9 + [True] * 16
    torch.testing.assert_close(beside[0, :9], alone[0], atol=1e-6, rtol=1e-6)
