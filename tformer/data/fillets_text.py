"""The ``fillets_text`` data set: the game lines of Fish Fillets NG in ten languages, each paired
with its English line (Debian's fillets-ng-data; no preparation, the scripts are read directly)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

from tformer.data.datasets import RawDataset
from tformer.data.errors import DataError
from tformer.data.fillets import GAME_DIR
from tformer.data.fillets_script import normalize, read_lines
from tformer.kinds import LABEL, TEXT, gives
from tformer.registry import DATASETS

__all__ = ["TEXT_LANGUAGES", "FilletsTextDataset", "fillets_text", "text_split"]

# The languages with 1,400+ translated lines (Slovenian, Swiss German and Esperanto have < 400).
TEXT_LANGUAGES = ("bg", "cs", "de", "es", "fr", "it", "nl", "pl", "ru", "sv")
TEXT_SPLITS = ("train", "valid", "test")
_FIELDS = {"source": TEXT, "target": TEXT, "language": LABEL}
_INSTALL = "apt-get install -y fillets-ng-data"


def text_split(english: str, test: float = 0.1, valid: float = 0.05) -> str:
    """The split of a line, fixed by its English words (a hash): a line held out is held out in
    every language, and lines with the same English words share a split."""
    bucket = int(hashlib.sha1(normalize(english).encode()).hexdigest()[:8], 16) / 16**8
    return "test" if bucket < test else "valid" if bucket < test + valid else "train"


class FilletsTextDataset(RawDataset):
    """Pairs (a line in one language, its English line), once each per language and split.

    Fields: ``source`` (the line as written), ``target`` (the English line), ``language``.
    A line left untranslated (the same as its English) is left out.
    """

    fields = dict(_FIELDS)

    def __init__(self, pairs: Sequence[tuple[str, str, str]]):
        super().__init__({"source": [p[0] for p in pairs], "target": [p[1] for p in pairs], "language": [p[2] for p in pairs]})


def _languages(languages: str | Sequence[str]) -> list[str]:
    if languages == "all":
        return list(TEXT_LANGUAGES)
    chosen = languages.split("+") if isinstance(languages, str) else list(languages)
    unknown = [lang for lang in chosen if lang not in TEXT_LANGUAGES]
    if unknown or not chosen:
        raise DataError(f"fillets_text: languages={languages!r}: each must be one of {', '.join(TEXT_LANGUAGES)} "
                        "(several as 'cs+de', or 'all')")
    return chosen


@DATASETS.register("fillets_text")
@gives(**_FIELDS)
def fillets_text(split: str = "train", languages: str | Sequence[str] = "all", game_dir: str = GAME_DIR) -> FilletsTextDataset:
    """One split of the game's lines, any of ten languages -> English.

    Args:
        split: "train", "valid" or "test" (lines no training split holds, in any language).
        languages: "all", one code ("cs") or several joined by "+" ("cs+de"); see ``TEXT_LANGUAGES``.
        game_dir: the game's data folder.
    Returns:
        Items with fields ``source``, ``target`` (English) and ``language``.
    """
    if split not in TEXT_SPLITS:
        raise DataError(f"fillets_text: split={split!r} is not one of {', '.join(TEXT_SPLITS)}")
    chosen = _languages(languages)
    script = Path(game_dir) / "script"
    if not any(script.glob("*/dialogs_*.lua")):
        raise DataError(f"no game scripts under {script}; install them: {_INSTALL}")
    pairs, seen = [], set()
    for line in read_lines(script).values():
        english = line.texts["en"]
        if not english.strip() or text_split(english) != split:
            continue
        for language in chosen:
            text = line.texts.get(language, "").strip()
            if text and text != english and (text, english, language) not in seen:
                seen.add((text, english, language))
                pairs.append((text, english, language))
    return FilletsTextDataset(pairs)
