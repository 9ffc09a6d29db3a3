"""Draw one line of text as a grayscale image of a fixed height, cleanly or with the faults of a scan.

A line is drawn with Pillow at its font size, with margins, on paper of some grey level and
texture; then rotated slightly, scaled to the stored height (32 pixels, the width keeping the
aspect ratio), blurred and given pixel noise. Every random choice is made beforehand
(``draw_style``), so a line renders the same in any process, and its clean twin
(``LineStyle.clean``) has the same font, size and margins without the faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["HEIGHT", "LineStyle", "draw_style", "render_line"]

HEIGHT = 32  # stored height of every line image, pixels


@dataclass(frozen=True)
class LineStyle:
    """How one line is drawn.

    Args:
        size: the font size the text is drawn at before scaling, pixels.
        margins: left, top, right and bottom margins in units of ``size``.
        angle: rotation, degrees (counter-clockwise).
        blur: Gaussian blur radius after scaling to the stored height, pixels.
        noise: standard deviation of the pixel noise, grey levels.
        paper: the background's grey level (255 white).
        ink: the text's grey level (0 black).
        texture: amplitude of a smooth random paper texture, grey levels.
        seed: the seed of the texture and the noise.
    """

    size: int
    margins: tuple[float, float, float, float]
    angle: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    paper: int = 255
    ink: int = 0
    texture: float = 0.0
    seed: int = 0

    def clean(self) -> "LineStyle":
        """The same font size and margins: black on white, straight, sharp and noiseless."""
        return LineStyle(self.size, self.margins)


def draw_style(rng: random.Random, distort: bool = True) -> LineStyle:
    """Draw a line's style from ``rng``: size and margins always; the faults when ``distort``.

    The ranges: font size 22-44 pixels; left and right margins 0.05-0.6, top and bottom 0-0.35
    of it (so the text fills from about half to all of the stored height); rotation within
    ±2 degrees; blur radius 0 (40 %) or 0.3-1.0 pixels; noise up to 12 grey levels; paper 160-255
    with ink at least 90 levels darker; texture up to 30 levels.
    """
    size = rng.randint(22, 44)
    margins = (rng.uniform(0.05, 0.6), rng.uniform(0.0, 0.35), rng.uniform(0.05, 0.6), rng.uniform(0.0, 0.35))
    style = LineStyle(size, tuple(round(m, 3) for m in margins))
    if not distort:
        return style
    paper = rng.randint(160, 255)
    return replace(
        style, angle=round(rng.uniform(-2.0, 2.0), 2), blur=0.0 if rng.random() < 0.4 else round(rng.uniform(0.3, 1.0), 2),
        noise=round(rng.uniform(0.0, 12.0), 1), paper=paper, ink=rng.randint(0, min(90, paper - 90)),
        texture=round(rng.uniform(0.0, 30.0), 1), seed=rng.randrange(2**31),
    )


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _paper(width: int, height: int, style: LineStyle, rng: np.random.Generator) -> Image.Image:
    # Flat paper plus a smooth texture: a coarse random grid scaled up bilinearly.
    page = np.full((height, width), float(style.paper))
    if style.texture > 0:
        coarse = rng.standard_normal((3, max(2, width // 24))).astype(np.float32)
        smooth = Image.fromarray(coarse, mode="F").resize((width, height), Image.BILINEAR)
        page += style.texture * np.asarray(smooth)
    return Image.fromarray(np.clip(page, 0, 255).astype(np.uint8), mode="L")


def render_line(text: str, font_path: str, style: LineStyle, height: int = HEIGHT) -> Image.Image:
    """Draw ``text`` in the font at ``font_path`` as a grayscale image ``height`` pixels high.

    Args:
        text: one line (no line breaks).
        font_path: a TrueType or OpenType file.
        style: size, margins and faults (``draw_style``).
        height: the stored height; the width follows the aspect ratio.
    Returns:
        A mode "L" image of (width, ``height``).
    """
    font = _font(font_path, style.size)
    ascent, descent = font.getmetrics()
    left, top, right, bottom = font.getbbox(text, anchor="ls")  # relative to the baseline's start
    above, below = max(ascent, -top), max(descent, bottom)  # accents and tails that leave the font's box
    m_left, m_top, m_right, m_bottom = (round(m * style.size) for m in style.margins)
    width, canvas_height = m_left + (right - left) + m_right, m_top + above + below + m_bottom
    rng = np.random.default_rng(style.seed)
    image = _paper(max(width, 1), canvas_height, style, rng)
    ImageDraw.Draw(image).text((m_left - left, m_top + above), text, fill=style.ink, font=font, anchor="ls")
    if style.angle:
        image = image.rotate(style.angle, resample=Image.BICUBIC, expand=True, fillcolor=style.paper)
    scaled_width = max(1, round(image.width * height / image.height))
    image = image.resize((scaled_width, height), Image.LANCZOS)
    if style.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(style.blur))
    if style.noise > 0:
        pixels = np.asarray(image, dtype=np.float32) + rng.normal(0.0, style.noise, (height, scaled_width))
        image = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), mode="L")
    return image
