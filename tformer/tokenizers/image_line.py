"""A line of text as an image: grey, a fixed height, any width, read as a row of vertical strips."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms import v2

from ..core.dropout import Dropout
from ..flops import flop_parameters, training_flops
from ..kinds import IMAGE
from ..registry import TOKENIZERS
from .base import Batch, ImageLayout, Tokenizer, build_positions, lengths_to_pad_mask

__all__ = ["ImageLineTokenizer", "read_line_image"]


def read_line_image(raw: Any, name: str = "image") -> Tensor:
    """A path, PIL image, array (H, W) / (H, W, C) or tensor (C, H, W) / (H, W) -> grey (1, H, W).

    Transparent pixels are laid on white (a PNG of black text on nothing is black on white);
    integer pixels stay integers, float pixels are taken as in [0, 1].
    """
    if isinstance(raw, (str, Path)):
        try:
            with PIL.Image.open(raw) as opened:
                opened.load()
                raw = opened.copy()
        except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as error:  # a bomb: too many pixels
            raise ValueError(f"{name}: not a readable image ({error})") from error
    if isinstance(raw, PIL.Image.Image):
        if raw.mode in ("RGBA", "LA", "PA") or "transparency" in raw.info:
            rgba = raw.convert("RGBA")
            raw = PIL.Image.alpha_composite(PIL.Image.new("RGBA", rgba.size, "white"), rgba)
        raw = raw.convert("L")
    elif not isinstance(raw, (np.ndarray, Tensor)):
        raise TypeError(f"image_line cannot read a {type(raw).__name__}; give a path, PIL image, array or tensor")
    image = v2.functional.to_image(raw)  # (C, H, W)
    if image.dim() != 3 or image.size(0) not in (1, 3, 4):
        raise ValueError(f"{name}: an image of shape {tuple(np.shape(raw))}; expected (H, W) or (H, W, C) arrays, "
                         "(C, H, W) tensors, with C = 1, 3 or 4")
    if image.size(0) > 1:
        image = v2.functional.rgb_to_grayscale(image[:3], num_output_channels=1)
    return image.as_subclass(Tensor)


@TOKENIZERS.register("image_line")
class ImageLineTokenizer(Tokenizer):
    """Text-line front-end: a grey line ``height`` pixels high, cut into strips ``patch_width`` wide.

    ``prepare`` scales an image of any size to ``height`` keeping its aspect ratio and pads its
    width with its last column to a whole number of strips; ``collate`` pads the widths (values
    (B, W, height): pixel columns are the length axis, lengths count them); ``forward`` embeds
    each full-height strip with one convolution (``height`` x ``patch_width``, stride the same)
    and adds sinusoidal positions along the width: no [CLS], one position per strip. With
    ``stem_channels`` the pixels first pass a small convolutional network, as in CRNN (Shi et al.
    2015): each stage a 3x3 convolution, batch norm, GELU and a max-pool that halves the height,
    and the width while the strip still holds two columns of the map; the strip embedding then
    reads the smaller map. Strips and positions stay the same; the stem lends the shift-invariant
    stroke detectors a single linear map of raw pixels lacks.

    Args:
        d_model: embedding width.
        height: the height every line is scaled to, pixels.
        patch_width: the width of a strip, pixels (8 read better than 4 in an early trial).
        mean, std: normalization after scaling the pixels to [0, 1].
        positions: ``"sinusoidal"`` (any width) or ``"learned"`` (up to ``max_len`` strips).
        max_len: the most strips of one line: learned positions, or with sinusoidal ones a cap on
            attention's memory; ``predict`` refuses a longer line before the forward pass.
        dropout: dropout after adding positions.
        stem_channels: widths of the convolutional stages before the strip embedding (``[]``: none);
            ``height`` must be divisible by 2 per stage.
    """

    reads = (IMAGE,)  # paths, PIL images, arrays or tensors of pixels

    def __init__(self, d_model: int, height: int = 32, patch_width: int = 8, mean: float = 0.5, std: float = 0.5,
                 positions: str = "sinusoidal", max_len: int = 1024, dropout: float = 0.0,
                 stem_channels: Sequence[int] = ()):
        super().__init__()
        if height < 1 or patch_width < 1:
            raise ValueError(f"height={height} and patch_width={patch_width} must be whole numbers of pixels >= 1")
        self.d_model, self.height, self.patch_width = d_model, height, patch_width
        self.mean, self.std = float(mean), float(std)
        self.stem, channels, (rows, cols) = _line_stem([int(c) for c in stem_channels], height, patch_width)
        self.patch_embed = nn.Conv2d(channels, d_model, kernel_size=(rows, cols), stride=(rows, cols))
        self.positions = build_positions(positions, d_model, max_len)
        self.dropout = Dropout(dropout)
        self.max_positions = max_len

    @property
    def position_unit(self) -> str:
        """A strip, with its width."""
        return f"strip ({self.patch_width} px wide)"

    def prepare(self, raw: Any) -> Tensor:
        """Path / PIL image / array / tensor -> normalized grey (1, height, W), W a multiple of ``patch_width``.

        Raises:
            ValueError: naming the image, if it is empty or scaled to ``height`` narrower than one strip.
        """
        name = str(raw) if isinstance(raw, (str, Path)) else "image"
        image = read_line_image(raw, name)
        rows, cols = image.shape[-2:]
        width = round(cols * self.height / rows) if rows else 0
        if width < self.patch_width:
            raise ValueError(self._too_small(name, cols, rows, width))
        image = v2.functional.resize(image, [self.height, width], antialias=True)
        pixels = v2.functional.to_dtype(image, torch.float32, scale=True)
        pad = -width % self.patch_width
        if pad:
            pixels = F.pad(pixels, (0, pad), mode="replicate")  # (1, height, W + pad)
        return (pixels - self.mean) / self.std

    def _too_small(self, name: str, cols: int, rows: int, width: int) -> str:
        ratio = self.patch_width / self.height
        smallest = (f"the smallest accepted is {self.patch_width}x{self.height} pixels (one strip at height {self.height}),"
                    f" or any image at least {ratio:g} times as wide as it is high")
        if not rows * cols:
            return f"{name}: an empty image ({cols}x{rows} pixels, width x height); {smallest}"
        return (f"{name}: {cols}x{rows} pixels (width x height) is narrower than one strip: scaled to a height of "
                f"{self.height} it is {width} pixels wide; {smallest} ({int(np.ceil(rows * ratio - 1e-9))}x{rows} pixels "
                "at this height)")

    def collate(self, items: Sequence[Tensor]) -> Batch:
        """(1, height, W_i) lines -> Batch(values (B, W_max, height), lengths (B,) of pixel columns W_i)."""
        return Batch(*_padded_columns(items))

    def batch_item(self, values: Tensor, lengths: Tensor, index: int) -> Tensor:
        """Line ``index`` of a collated batch as ``prepare`` gave it, (1, height, W)."""
        return values[index, : int(lengths[index])].T.unsqueeze(0)

    def size(self, item: Tensor) -> int:
        """Strips of one prepared (1, height, W) line."""
        return int(item.size(-1)) // self.patch_width

    def positions_of(self, item: Tensor) -> int:
        """Strips of one prepared line: one position each."""
        return self.size(item)

    def example_inputs(self, batch: int = 2) -> Batch:
        """``batch`` made-up lines of noise, ``height`` pixels high, 12, 11, 10... strips wide."""
        draws = torch.Generator().manual_seed(0)
        widths = [max(1, 12 - i) * self.patch_width for i in range(batch)]
        return self.collate([self.prepare(torch.rand(1, self.height, w, generator=draws)) for w in widths])

    def position_labels(self, prepared: Tensor, n_positions: int) -> list[str]:
        """The first pixel column of each strip ("0", "8", "16"...)."""
        return [str(i * self.patch_width) for i in range(n_positions)]

    def image_layout(self, prepared: Tensor) -> ImageLayout:
        """The prepared line, one row of strips, nothing before them."""
        return ImageLayout(prepared.cpu(), (1, self.size(prepared)), 0)

    def front_end_flops(self, lengths: Tensor) -> Tensor:
        """Each stem stage's convolution and batch norm act once per cell of the map it reads (all
        pixels first; its max-pool shrinks the next), the strip embedding once per strip (the 6 N D
        rule, ``tformer.flops``). Padded columns are not counted."""
        parts, rows, columns = [], self.height, lengths
        for conv, norm, _, pool in self._stages():
            parts.append((flop_parameters(conv, norm), rows * columns.sum()))
            rows, columns = rows // pool.kernel_size[0], columns // pool.kernel_size[1]
        return training_flops(*parts, (flop_parameters(self.patch_embed), (lengths // self.patch_width).sum()))

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, W, height) pixel columns and (B,) widths -> (B, W // patch_width, d) and the (B, S) padding mask."""
        if values.dim() != 3 or values.size(2) != self.height:
            raise ValueError(f"expected (batch, width, {self.height}) pixel columns, got {tuple(values.shape)}")
        lengths = lengths.to(values.device)
        images = values.transpose(1, 2).unsqueeze(1)  # (B, 1, height, W)
        x = self.patch_embed(self._run_stem(images, lengths)).squeeze(2).transpose(1, 2)  # (B, S, d)
        x = self.dropout(self.positions(x))
        return x, lengths_to_pad_mask(lengths // self.patch_width, x.size(1))

    def _stages(self) -> Iterator[tuple[nn.Module, ...]]:
        # the stem's (convolution, batch norm, GELU, max-pool) stages
        return zip(*[iter(self.stem)] * 4)

    def _run_stem(self, images: Tensor, columns: Tensor) -> Tensor:
        # Each stage's map is zeroed past each line's own columns, so that the next convolution sees
        # there the zeros its padding shows at the end of a lone line: a line reads the same in any
        # batch. Pools never straddle a line's end (its width is whole strips, halved while even).
        for conv, norm, act, pool in self._stages():
            images = pool(act(norm(conv(images))))
            columns = columns // pool.kernel_size[1]
            images = images * ~lengths_to_pad_mask(columns, images.size(-1))[:, None, None]
        return images


def _line_stem(widths: list[int], height: int, patch_width: int) -> tuple[nn.Module, int, tuple[int, int]]:
    # The stages, the channels they end with, and the (rows, columns) of the map one strip covers.
    if height % 2 ** len(widths):
        raise ValueError(f"stem_channels={widths}: {len(widths)} stages halve the height {len(widths)} times, "
                         f"so height={height} must be divisible by {2 ** len(widths)}")
    layers: list[nn.Module] = []
    channels, rows, cols = 1, height, patch_width
    for width in widths:
        across = 2 if cols % 2 == 0 else 1  # halve the width only while a strip keeps whole columns
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.GELU(),
                   nn.MaxPool2d((2, across))]
        channels, rows, cols = width, rows // 2, cols // across
    return nn.Sequential(*layers), channels, (rows, cols)


def _padded_columns(items: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    # (1, H, W_i) -> (B, W_max, H) zero-padded columns and the widths
    columns = [item.squeeze(0).T for item in items]  # (W_i, H)
    lengths = torch.tensor([c.size(0) for c in columns], dtype=torch.long)
    return nn.utils.rnn.pad_sequence(columns, batch_first=True), lengths
