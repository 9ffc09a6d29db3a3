"""The lines of Fish Fillets NG: ``script/<level>/dialogs_<lang>.lua`` read without a Lua interpreter.

Each file lists ``dialogId("<clip id>", "<speaker font>", "<English line>")``, followed (in every
language but English) by ``dialogStr("<that language's line>")``. The clip of a line in language
``xx`` is ``sound/<level>/<xx>/<clip id>.ogg``; the same clip id may occur in several levels.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Line", "read_lines", "normalize", "in_latin_script"]

_STRING = r'"((?:[^"\\]|\\.)*)"'
_DIALOG = re.compile(
    rf"dialogId\(\s*{_STRING}\s*,\s*{_STRING}\s*,\s*{_STRING}\s*\)(?:\s*dialogStr\(\s*{_STRING}\s*\))?", re.S
)
_ESCAPE = re.compile(r"\\(.)", re.S)
_FILE = re.compile(r"dialogs_([a-z]{2}(?:_[A-Z]{2})?)\.lua")


@dataclass
class Line:
    """One spoken line: its clip id, level, speaker font and text in each language.

    Args:
        clip: the clip id (``"let-m-divna"``).
        level: the level folder (``"airplane"``).
        speaker: the speaking character's font (``"font_small"``), which stands for the voice.
        texts: language code -> the line in that language; ``"en"`` always.
    """

    clip: str
    level: str
    speaker: str
    texts: dict[str, str] = field(default_factory=dict)


def _unescape(text: str) -> str:
    return " ".join(_ESCAPE.sub(r"\1", text).split())


def read_lines(script_dir: Path) -> dict[tuple[str, str], Line]:
    """Every line of every level, with its text in each language that has it.

    Args:
        script_dir: the game's ``script/`` folder.
    Returns:
        ``(level, clip id) -> Line``, in sorted order of level and file.
    """
    lines: dict[tuple[str, str], Line] = {}
    for path in sorted(script_dir.glob("*/dialogs_*.lua")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            continue
        language, level = match.group(1), path.parent.name
        for clip, speaker, english, translated in _DIALOG.findall(path.read_text(encoding="utf-8", errors="replace")):
            line = lines.setdefault((level, clip), Line(clip, level, speaker))
            line.texts["en"] = _unescape(english)
            if translated and language != "en":
                line.texts[language] = _unescape(translated)
    return lines


_KEEP = set("'-")


def normalize(text: str) -> str:
    """The words of a line as a recognizer writes them: lower case, no punctuation.

    Letters (with their diacritics) and digits stay; an apostrophe inside a word stays (Dutch
    "z'n", English "don't"); a hyphen inside a word stays; everything else becomes a space.

    Args:
        text: the line as written.
    Returns:
        E.g. ``"co je to za divnou loď"`` for ``"Co je to za divnou loď?"``.
    """
    text = unicodedata.normalize("NFC", text.replace("\u2019", "'").replace("\u2018", "'")).lower()
    chars = [c if c.isalnum() or c in _KEEP else " " for c in text]
    words = ("".join(chars)).split()
    return " ".join(w.strip("'-") for w in words if w.strip("'-"))


def in_latin_script(text: str) -> bool:
    """True when every letter of ``text`` is a Latin letter (Czech, Dutch and English are written so)."""
    return all(not c.isalpha() or c in string.ascii_letters or unicodedata.name(c, "").startswith("LATIN")
               for c in text)
