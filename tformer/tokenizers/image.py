"""Image patches (ViT): an optional conv stem, conv patch embedding + [CLS] + learned or 2-D
sinusoidal positions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms import v2

from ..core.dropout import Dropout
from ..core.positions import sinusoidal_table
from ..flops import flop_parameters, training_flops
from ..kinds import IMAGE
from ..registry import TOKENIZERS
from .base import Batch, ImageLayout, Tokenizer

__all__ = ["ImagePatchTokenizer", "resample_grid_positions", "sinusoidal_grid"]


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def resample_grid_positions(positions: Tensor, old_grid: Sequence[int], new_grid: Sequence[int], n_prefix: int) -> Tensor:
    """Resize a learned position grid with bicubic interpolation (as timm's ``resample_abs_pos_embed``).

    Args:
        positions: (1, n_prefix + H * W, d) positions, prefix tokens ([CLS]) first.
        old_grid: (H, W) of ``positions``.
        new_grid: (H', W') wanted.
        n_prefix: leading positions that are not part of the grid (kept as they are).

    Returns:
        (1, n_prefix + H' * W', d) positions.
    """
    if tuple(old_grid) == tuple(new_grid):
        return positions
    prefix, grid = positions[:, :n_prefix], positions[:, n_prefix:]
    d = grid.size(-1)
    grid = grid.reshape(1, old_grid[0], old_grid[1], d).permute(0, 3, 1, 2).float()  # (1, d, H, W)
    grid = F.interpolate(grid, size=tuple(new_grid), mode="bicubic", align_corners=False, antialias=True)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, d).to(positions.dtype)  # (1, H'W', d)
    return torch.cat([prefix, grid], dim=1)


def sinusoidal_grid(rows: int, cols: int, d_model: int) -> Tensor:
    """(rows * cols, d_model) 2-D sinusoidal table: the first half of the dims encodes the row,
    the second half the column, each with the paper's 1-D formula."""
    half = d_model // 2
    row = sinusoidal_table(rows, half)[:, None, :].expand(rows, cols, half)
    col = sinusoidal_table(cols, d_model - half)[None, :, :].expand(rows, cols, d_model - half)
    return torch.cat([row, col], dim=-1).reshape(rows * cols, d_model)


def _open_image(path: str | Path) -> PIL.Image.Image:
    try:
        with PIL.Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as error:  # a bomb: its header claims too many pixels
        raise ValueError(f"{path}: not a readable image ({error})") from error


def _convert_channels(image: Tensor, channels: int) -> Tensor:
    # image: (C, H, W) with C in {1, 3, 4}; alpha is dropped, grey <-> RGB converted.
    if image.size(0) == 4:
        image = image[:3]
    if image.size(0) == channels:
        return image
    if channels == 1:
        return v2.functional.rgb_to_grayscale(image, num_output_channels=1)
    return image.expand(3, -1, -1).clone()


def _conv_stem(channels: int, widths: list[int]) -> nn.Module:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.GELU()]
        channels = width
    return nn.Sequential(*layers)  # empty: the identity


@TOKENIZERS.register("image_patch")
class ImagePatchTokenizer(Tokenizer):
    """ViT front-end: an image becomes [CLS] + one vector per ``patch_size`` square.

    An input of another size than ``image_size`` gets learned positions resampled bicubically
    (sinusoidal ones are computed for its grid).

    Args:
        d_model: embedding width.
        image_size: training size, ``int`` or (H, W); ``prepare`` resizes to it.
        patch_size: side of the square patches; must divide the image size.
        channels: 1 (grey) or 3 (RGB); ``prepare`` converts inputs to this.
        mean, std: per-channel normalization after scaling to [0, 1] (one value or one per channel).
        positions: ``"learned"`` (ViT) or ``"sinusoidal"`` (2-D, [CLS] gets none).
        class_token: prepend a learned [CLS] vector.
        dropout: dropout after adding positions.
        stem_channels: widths of 3x3 convolutions (stride 1, batch norm, GELU) run on the pixels
            before the patch embedding, as in the convolutional stems of Xiao et al. 2021; empty
            for the plain patchify convolution of ViT.
    """

    reads = (IMAGE,)  # paths, PIL images, arrays or tensors of pixels
    varies_in_length = False  # prepare resizes every image to image_size
    position_unit = "patch (row, column)"

    def __init__(
        self,
        d_model: int,
        image_size: int | Sequence[int] = 28,
        patch_size: int = 7,
        channels: int = 1,
        mean: Sequence[float] = (0.5,),
        std: Sequence[float] = (0.5,),
        positions: str = "learned",
        class_token: bool = True,
        dropout: float = 0.0,
        stem_channels: Sequence[int] = (),
    ):
        super().__init__()
        self.d_model, self.patch_size, self.channels = d_model, patch_size, channels
        self.image_size = _pair(image_size)
        self.grid = self._grid(self.image_size)
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
        if positions not in ("learned", "sinusoidal"):
            raise ValueError(f"unknown positions {positions!r}; choose 'learned' or 'sinusoidal'")
        self.n_prefix = int(class_token)
        self.transform = v2.Compose([
            v2.Resize(self.image_size, antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(self._per_channel(mean, "mean"), self._per_channel(std, "std")),
        ])
        self.stem = _conv_stem(channels, [int(c) for c in stem_channels])
        self.patch_embed = nn.Conv2d(int(stem_channels[-1]) if stem_channels else channels, d_model,
                                     kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model) * 1e-6) if class_token else None
        n_positions = self.n_prefix + self.grid[0] * self.grid[1]
        self.pos_embed = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, n_positions, d_model), std=0.02)) if positions == "learned" else None
        self.dropout = Dropout(dropout)

    def _grid(self, size: Sequence[int]) -> tuple[int, int]:
        if size[0] % self.patch_size or size[1] % self.patch_size:
            raise ValueError(f"image size {tuple(size)} is not a multiple of patch_size {self.patch_size}")
        return size[0] // self.patch_size, size[1] // self.patch_size

    def _per_channel(self, values: Sequence[float], name: str) -> list[float]:
        values = [float(v) for v in values]
        if len(values) == 1:
            return values * self.channels
        if len(values) != self.channels:
            raise ValueError(f"{name} has {len(values)} values; give 1 or {self.channels} (channels)")
        return values

    def prepare(self, raw: Any) -> Tensor:
        """Path / PIL image / array (H, W) or (H, W, C) / tensor (C, H, W) -> normalized (C, H, W).

        Integer pixels are scaled from [0, 255]; float pixels are taken as already in [0, 1].
        """
        if isinstance(raw, (str, Path)):
            raw = _open_image(raw)
        if isinstance(raw, PIL.Image.Image):
            raw = raw.convert("L" if self.channels == 1 else "RGB")
        elif not isinstance(raw, (np.ndarray, Tensor)):
            raise TypeError(f"image_patch cannot prepare a {type(raw).__name__}; give a path, PIL image, array or tensor")
        image = v2.functional.to_image(raw)  # (C, H, W)
        if image.dim() != 3 or image.size(0) not in (1, 3, 4):
            raise ValueError(
                f"image of shape {tuple(np.shape(raw))} has {image.size(0) if image.dim() == 3 else '?'} channels; "
                f"expected (H, W) or (H, W, C) arrays / (C, H, W) tensors with C = 1, 3 or 4"
            )
        image = _convert_channels(image, self.channels)
        return self.transform(image).as_subclass(Tensor)

    def collate(self, items: Sequence[Tensor]) -> Batch:
        """(C, H, W) items of one size -> Batch(values (B, C, H, W), lengths (B,) of token counts)."""
        shapes = {tuple(item.shape) for item in items}
        if len(shapes) > 1:
            raise ValueError(f"images in a batch must share one size; got {sorted(shapes)}")
        values = torch.stack(list(items))
        return Batch(values, torch.full((len(items),), self.size(items[0]), dtype=torch.long))

    def size(self, item: Tensor) -> int:
        """Tokens of one (C, H, W) image: patches plus [CLS]."""
        rows, cols = self._grid(item.shape[-2:])
        return self.n_prefix + rows * cols

    def example_inputs(self, batch: int = 2) -> Batch:
        """``batch`` made-up images of the training size."""
        pixels = torch.rand(batch, self.channels, *self.image_size, generator=torch.Generator().manual_seed(0))
        return self.collate([self.prepare(image) for image in pixels])

    def position_labels(self, prepared: Tensor, n_positions: int) -> list[str]:
        """[CLS], then "row,column" of each patch."""
        rows, cols = self._grid(prepared.shape[-2:])
        return ["[CLS]"] * self.n_prefix + [f"{r},{c}" for r in range(rows) for c in range(cols)]

    def image_layout(self, prepared: Tensor) -> ImageLayout:
        """The prepared (C, H, W) image, its patch grid and the [CLS] before the patches."""
        return ImageLayout(prepared.cpu(), self._grid(prepared.shape[-2:]), self.n_prefix)

    def batch_item(self, values: Tensor, lengths: Tensor, index: int) -> Tensor:
        """Image ``index`` (images share one size; lengths count tokens, not rows)."""
        return values[index]

    def front_end_flops(self, lengths: Tensor) -> Tensor:
        """The stem's convolutions act once per pixel (stride 1), the patch embedding once per patch
        (the 6 N D rule, ``tformer.flops``); [CLS] and the positions are added, not multiplied."""
        patches = (lengths - self.n_prefix).sum()
        return training_flops((flop_parameters(self.stem), patches * self.patch_size ** 2),
                              (flop_parameters(self.patch_embed), patches))

    def forward(self, values: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(B, C, H, W) images -> (B, 1 + N, d) vectors and an all-False (B, 1 + N) padding mask."""
        if values.dim() != 4 or values.size(1) != self.channels:
            raise ValueError(f"expected (batch, {self.channels}, H, W) images, got {tuple(values.shape)}")
        grid = self._grid(values.shape[-2:])
        x = self.patch_embed(self.stem(values)).flatten(2).transpose(1, 2)  # (B, N, d)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], dim=1)  # (B, 1 + N, d)
        x = self.dropout(x + self._positions(grid).to(x.dtype))
        return x, torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)

    def _positions(self, grid: tuple[int, int]) -> Tensor:
        # -> (1, n_prefix + N, d)
        if self.pos_embed is not None:
            return resample_grid_positions(self.pos_embed, self.grid, grid, self.n_prefix)
        table = sinusoidal_grid(grid[0], grid[1], self.d_model).to(self.patch_embed.weight.device)
        return F.pad(table, (0, 0, self.n_prefix, 0)).unsqueeze(0)
