"""The fonts that text lines are drawn in: Debian ``fonts-*`` packages, split by file, and what each can draw.

Training, validation and test lines are drawn in fonts of different families, so the test measures
reading typefaces the model never saw: valid holds Andika and Gentium, test Carlito, Caladea,
EB Garamond, Comic Neue and Cantarell (15 files); training the other 77 files of 11 families
(Helvetica, Times, Courier, Palatino, Century, Bookman and Avant Garde clones among them).
Hairline, thin, symbol and script faces are left out: at a height of 32 pixels they are no text;
so is EB Garamond's bold, which has no umlauts.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from fontTools.ttLib import TTFont, TTLibError

from tformer.data.errors import DataError

__all__ = ["FONT_DIR", "FONTS", "FONT_PACKAGES", "font_paths", "drawable", "missing_characters"]

FONT_DIR = Path("/usr/share/fonts")


def _files(folder: str, names: str) -> list[str]:
    return [f"{folder}/{name}" for name in names.split()]


FONTS: dict[str, list[str]] = {
    "train": [
        *_files("truetype/dejavu", "DejaVuSans.ttf DejaVuSans-Bold.ttf DejaVuSans-Oblique.ttf DejaVuSans-BoldOblique.ttf "
                "DejaVuSansCondensed.ttf DejaVuSansCondensed-Bold.ttf DejaVuSerif.ttf DejaVuSerif-Bold.ttf "
                "DejaVuSerif-Italic.ttf DejaVuSerifCondensed.ttf DejaVuSansMono.ttf DejaVuSansMono-Bold.ttf"),
        *_files("truetype/liberation2", "LiberationSans-Regular.ttf LiberationSans-Bold.ttf LiberationSans-Italic.ttf "
                "LiberationSerif-Regular.ttf LiberationSerif-Bold.ttf LiberationSerif-Italic.ttf "
                "LiberationMono-Regular.ttf LiberationMono-Bold.ttf"),
        *_files("truetype/freefont", "FreeSans.ttf FreeSansBold.ttf FreeSansOblique.ttf FreeSerif.ttf FreeSerifBold.ttf "
                "FreeSerifItalic.ttf FreeMono.ttf FreeMonoBold.ttf"),
        *_files("opentype/urw-base35", "NimbusRoman-Regular.otf NimbusRoman-Bold.otf NimbusRoman-Italic.otf "
                "NimbusSans-Regular.otf NimbusSans-Bold.otf NimbusSans-Italic.otf NimbusSansNarrow-Regular.otf "
                "NimbusSansNarrow-Bold.otf NimbusMonoPS-Regular.otf NimbusMonoPS-Bold.otf C059-Roman.otf "
                "C059-Italic.otf P052-Roman.otf P052-Italic.otf URWBookman-Light.otf URWBookman-Demi.otf "
                "URWGothic-Book.otf URWGothic-Demi.otf"),
        *_files("opentype/linux-libertine", "LinLibertine_R.otf LinLibertine_RB.otf LinLibertine_RI.otf "
                "LinBiolinum_R.otf LinBiolinum_RB.otf LinBiolinum_RI.otf"),
        *_files("truetype/open-sans", "OpenSans-Regular.ttf OpenSans-Bold.ttf OpenSans-Italic.ttf OpenSans-Light.ttf "
                "OpenSans-Semibold.ttf OpenSans-CondBold.ttf"),
        *_files("truetype/roboto/unhinted", "RobotoTTF/Roboto-Regular.ttf RobotoTTF/Roboto-Bold.ttf "
                "RobotoTTF/Roboto-Italic.ttf RobotoTTF/Roboto-Medium.ttf RobotoTTF/Roboto-Light.ttf "
                "RobotoCondensed-Regular.ttf RobotoCondensed-Bold.ttf"),
        *_files("truetype/lato", "Lato-Regular.ttf Lato-Bold.ttf Lato-Italic.ttf Lato-Light.ttf Lato-Black.ttf"),
        *_files("truetype/hack", "Hack-Regular.ttf Hack-Bold.ttf Hack-Italic.ttf"),
        *_files("truetype/charis", "CharisSIL-Regular.ttf CharisSIL-Bold.ttf CharisSIL-Italic.ttf"),
        *_files("truetype/inconsolata", "Inconsolata.otf"),
    ],
    "valid": [
        *_files("truetype/andika", "Andika-Regular.ttf Andika-Bold.ttf Andika-Italic.ttf"),
        *_files("truetype/gentium", "Gentium-R.ttf Gentium-I.ttf GentiumAlt-R.ttf"),
    ],
    "test": [
        *_files("truetype/crosextra", "Carlito-Regular.ttf Carlito-Bold.ttf Carlito-Italic.ttf Carlito-BoldItalic.ttf "
                "Caladea-Regular.ttf Caladea-Bold.ttf Caladea-Italic.ttf"),
        *_files("opentype/ebgaramond", "EBGaramond12-Regular.otf EBGaramond12-Italic.otf EBGaramond08-Regular.otf"),
        *_files("opentype/comic-neue", "ComicNeue-Regular.otf ComicNeue-Bold.otf ComicNeue-Italic.otf"),
        *_files("opentype/cantarell", "Cantarell-Regular.otf Cantarell-Bold.otf"),
    ],
}

# The Debian package of each font folder (and file prefix, where one folder holds two packages).
FONT_PACKAGES = {
    "truetype/dejavu/DejaVuSans.ttf": "fonts-dejavu-core", "truetype/dejavu/DejaVuSans-Bold.ttf": "fonts-dejavu-core",
    "truetype/dejavu/DejaVuSerif.ttf": "fonts-dejavu-core", "truetype/dejavu/DejaVuSerif-Bold.ttf": "fonts-dejavu-core",
    "truetype/dejavu/DejaVuSansMono.ttf": "fonts-dejavu-core",
    "truetype/dejavu/DejaVuSansMono-Bold.ttf": "fonts-dejavu-core", "truetype/dejavu": "fonts-dejavu-extra",
    "truetype/liberation2": "fonts-liberation2", "truetype/freefont": "fonts-freefont-ttf",
    "opentype/urw-base35": "fonts-urw-base35", "opentype/linux-libertine": "fonts-linuxlibertine",
    "truetype/open-sans": "fonts-open-sans", "truetype/roboto": "fonts-roboto-unhinted", "truetype/lato": "fonts-lato",
    "truetype/hack": "fonts-hack", "truetype/charis": "fonts-sil-charis", "truetype/inconsolata": "fonts-inconsolata",
    "truetype/andika": "fonts-sil-andika", "truetype/gentium": "fonts-sil-gentium",
    "truetype/crosextra/Carlito": "fonts-crosextra-carlito", "truetype/crosextra/Caladea": "fonts-crosextra-caladea",
    "opentype/ebgaramond": "fonts-ebgaramond", "opentype/comic-neue": "fonts-comic-neue",
    "opentype/cantarell": "fonts-cantarell",
}


def _package(relative: str) -> str:
    # the longest key that is a prefix of the path
    keys = [key for key in FONT_PACKAGES if relative.startswith(key)]
    return FONT_PACKAGES[max(keys, key=len)] if keys else "the package that holds it"


def font_paths(fonts: Mapping[str, Sequence[str]], font_dir: str | Path = FONT_DIR) -> dict[str, list[Path]]:
    """The font files of each split, checked: present, and no file in two splits.

    Args:
        fonts: split -> font files, relative to ``font_dir`` (or absolute).
        font_dir: the folder the relative paths are under.
    Returns:
        Split -> absolute paths, in the given order.
    Raises:
        DataError: naming the missing files and the Debian packages to install, or a file listed twice.
    """
    paths = {split: [Path(font_dir) / name for name in names] for split, names in fonts.items()}
    seen: dict[Path, str] = {}
    for split, files in paths.items():
        for path in files:
            if path in seen:
                raise DataError(f"font {path} is listed for both {seen[path]} and {split}; a font belongs to one split")
            seen[path] = split
    missing = [str(name) for names in fonts.values() for name in names if not (Path(font_dir) / name).is_file()]
    if missing:
        packages = sorted({_package(name) for name in missing})
        raise DataError(f"{len(missing)} font file(s) not found, e.g. {Path(font_dir) / missing[0]}; install them: "
                        f"apt-get install -y {' '.join(packages)}")
    return paths


@lru_cache(maxsize=None)
def drawable(path: str) -> frozenset[str]:
    """The characters font file ``path`` has glyphs for (its best Unicode cmap, fontTools)."""
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except (TTLibError, OSError) as error:
        raise DataError(f"{path}: not a font fontTools can read ({error})") from error
    return frozenset(chr(code) for code in cmap)


def missing_characters(text: str, path: str | Path) -> str:
    """The characters of ``text`` (spaces aside) that the font at ``path`` cannot draw, in order, once each."""
    glyphs = drawable(str(path))
    return "".join(dict.fromkeys(c for c in text if not c.isspace() and c not in glyphs))
