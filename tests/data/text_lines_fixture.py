"""Tiny inputs for the text-line tests: a toy FreeDict dictionary, a font that draws only a few
characters (built with fontTools), and line images drawn in DejaVu with their manifest."""

from __future__ import annotations

import json
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from tests.data.test_data_builtin import write_dictd
from tformer.data.line_render import LineStyle, render_line

__all__ = ["DEJAVU", "SENTENCES", "toy_dictionary", "box_font", "line_images"]

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")  # fonts-dejavu-core
FONTS = {"train": ["DejaVuSans.ttf", "DejaVuSerif.ttf"], "valid": ["DejaVuSansMono.ttf"], "test": ["DejaVuSans-Bold.ttf"]}
# freedict_de_en holds out 500 + 500 full sentences: the toy dictionary has 1,100 pairs, every third
# German one with an umlaut, plus phrases that are no sentences (training only).
SENTENCES = [(f"Die Zahl {i} ist {'schön' if i % 3 == 0 else 'gut'}.", f"The number {i} is fine.") for i in range(1100)]
PHRASES = [(f"Zahl {i}", f"number {i}") for i in range(30)]


def toy_dictionary(folder: Path) -> Path:
    """A dictd database (``toy.dict.dz``) whose examples are ``SENTENCES`` and ``PHRASES``."""
    examples = "".join(f'      "{de}"  - {en}\n' for de, en in SENTENCES + PHRASES)
    return write_dictd(folder, ["Zahl /tsaːl/ <fem>\nnumber\n" + examples])


def box_font(path: Path, characters: str) -> Path:
    """A TrueType font that draws each of ``characters`` (and space) as a filled box, nothing else."""
    names = [".notdef", "space"] + [f"g{ord(c)}" for c in characters]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({32: "space", **{ord(c): f"g{ord(c)}" for c in characters}})
    box = TTGlyphPen(None)
    for x, y in ((50, 0), (50, 700), (550, 700), (550, 0)):
        (box.moveTo if x == 50 and y == 0 else box.lineTo)((x, y))
    box.closePath()
    glyphs = {name: (box.glyph() if name.startswith("g") else TTGlyphPen(None).glyph()) for name in names}
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (600, 50) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Boxes", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.save(str(path))
    return path


def line_images(folder: Path, texts: list[str], font: str = "DejaVuSans.ttf") -> Path:
    """Each text drawn clean (black on white, no faults) in a DejaVu font, and ``lines.jsonl`` naming them."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, text in enumerate(texts):
        image = render_line(text, str(DEJAVU / font), LineStyle(30, (0.2, 0.1, 0.2, 0.1)))
        image.save(folder / f"{number}.png")
        rows.append({"image": f"{number}.png", "text": text, "width": image.width})
    (folder / "lines.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return folder / "lines.jsonl"
