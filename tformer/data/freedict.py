"""German->English pairs from the FreeDict dictionary (Debian package dict-freedict-deu-eng).

The dictd database is an index (``headword<TAB>offset<TAB>length``, base64 numbers) into a
gzipped text of entries: a header ``Headword /IPA/ <grammar>``, translation lines (alternatives
separated by commas or semicolons, with ``[domain]`` labels and ``<pos>`` tags), example lines
``      "German"  - English alternatives``, and Synonym/see/Note lines (ignored).
"""

from __future__ import annotations

import gzip
import random
import re
from os import PathLike
from pathlib import Path
from typing import Iterator

from tformer.data.builtin import Builtin, check_split, prepared_folder, register_builtin
from tformer.data.errors import DataError
from tformer.data.text import ParallelTextDataset
from tformer.kinds import TEXT, gives
from tformer.registry import DATASETS

__all__ = [
    "DICT_PATH", "read_entries", "entry_pairs", "split_alternatives", "is_sentence",
    "split_pairs", "prepare_freedict", "freedict_de_en",
]

DICT_PATH = Path("/usr/share/dictd/freedict-deu-eng.dict.dz")
_INSTALL = "apt-get install -y dict-freedict-deu-eng"
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_IPA = re.compile(r"\s/[^/\s][^/]*/(?=[\s),]|$)")
# "departure <n>dep.,  /dˈeːp/", "autonomic nervous systemANS,  /ˈans/": an abbreviation glued to
# the translation (after a tag, a label or a lower-case letter), then its pronunciation.
_GLUED_ABBREVIATION = re.compile(r"(?:(?<=[>\]])\s*|(?<=[a-z])(?=[A-Z]))[^\s,<>\[\]]+,\s+/[^/]+/")
_TAGS = re.compile(r"<[^<>]*>|\[[^\[\]]*\]|\{[^{}]*\}")
_SENTENCE_END = re.compile(r"[.!?][\"')’”]*$")
_AFTER_SENTENCE = re.compile(r"(?<=[.!?])[\"')’”]*\s*[,;]\s+")


def _decode_number(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + _BASE64.index(char)
    return value


def read_entries(dict_path: str | PathLike = DICT_PATH) -> Iterator[str]:
    """Yield each dictionary entry's text once, in file order, skipping the database metadata.

    Args:
        dict_path: the ``.dict.dz`` file; its ``.index`` must lie beside it.
    Returns:
        An iterator of entry texts.
    """
    dict_path = Path(dict_path)
    index_path = dict_path.with_name(dict_path.name.removesuffix(".dz").removesuffix(".dict") + ".index")
    for path in (dict_path, index_path):
        if not path.is_file():
            raise DataError(f"{path} not found; install the FreeDict German-English dictionary: {_INSTALL}")
    data = gzip.decompress(dict_path.read_bytes())
    spans = set()
    for line in index_path.read_text(encoding="utf-8").splitlines():
        headword, offset, length = line.split("\t")
        if headword.strip() and not headword.startswith("00-database"):
            spans.add((_decode_number(offset), _decode_number(length)))
    for offset, length in sorted(spans):
        yield data[offset : offset + length].decode("utf-8")


def _clean(text: str) -> str:
    text = " ".join(_TAGS.sub(" ", text).replace("`", "").split())
    text = text.replace("( ", "(").replace(" )", ")").replace("()", "")
    return " ".join(text.split()).strip(" ,;")


def is_sentence(text: str) -> bool:
    """Whether ``text`` looks like a full sentence: 3+ words, a capital first letter, final . ! or ?."""
    return len(text.split()) >= 3 and text[:1].isupper() and bool(_SENTENCE_END.search(text))


def split_alternatives(text: str) -> list[str]:
    """Split an English side into its alternatives.

    A sentence is split only after sentence punctuation ("Time presses., Time is short.");
    a word or phrase at every comma or semicolon outside parentheses ("eel trap, eel pot").

    Args:
        text: the English side of a translation or example line.
    Returns:
        The cleaned, non-empty alternatives.
    """
    if _SENTENCE_END.search(text.strip()):
        parts = _AFTER_SENTENCE.split(text)
    else:
        parts, depth, current = [], 0, ""
        for char in text:
            depth += (char in "([") - (char in ")]")
            if char in ",;" and depth <= 0:
                parts.append(current)
                current = ""
            else:
                current += char
        parts.append(current)
    return [part for part in map(_clean, parts) if part]


def entry_pairs(entry: str) -> Iterator[tuple[str, str, str]]:
    """Yield ``(german, english, kind)`` pairs of one entry; kind is "headword" or "example".

    Args:
        entry: the text of one dictionary entry.
    Returns:
        An iterator of pairs, one per English alternative.
    """
    lines = entry.split("\n")
    headword = _clean(_IPA.sub(" ", lines[0]))
    for line in lines[1:]:
        stripped = line.strip()
        if line.startswith('      "') and '"  - ' in line:
            german, english = stripped[1:].split('"  - ', 1)
            german = _clean(german)
            for alternative in split_alternatives(english):
                yield german, alternative, "example"
        elif stripped and not line.startswith("  ") and not stripped.startswith("see:") and headword:
            translation = _IPA.sub(" ", _GLUED_ABBREVIATION.sub(",", stripped))
            for alternative in split_alternatives(_TAGS.sub(" ", translation)):
                yield headword, alternative, "headword"


def split_pairs(
    pairs: list[tuple[str, str, str]], valid_size: int, test_size: int, seed: int
) -> dict[str, list[tuple[str, str]]]:
    """Deduplicate and split pairs; valid and test hold full-sentence examples only.

    Held-out German sentences are drawn at random (seeded) from the example pairs where both
    sides are full sentences; each keeps its first English alternative as the one reference.
    Training drops every pair whose German or English side is held out.

    Args:
        pairs: ``(german, english, kind)`` triples, in dictionary order.
        valid_size: the number of validation sentences.
        test_size: the number of test sentences.
        seed: the seed of the draw and of the training order.
    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}`` lists of ``(german, english)``.
    """
    unique = list(dict.fromkeys((de, en) for de, en, _ in pairs if de and en))
    first_reference: dict[str, str] = {}
    for de, en, kind in pairs:
        if kind == "example" and is_sentence(de) and is_sentence(en):
            first_reference.setdefault(de, en)
    candidates = sorted(first_reference)
    rng = random.Random(seed)
    rng.shuffle(candidates)
    if len(candidates) < valid_size + test_size:
        raise DataError(f"only {len(candidates)} full sentences for valid_size={valid_size} + test_size={test_size}")
    test, valid = candidates[:test_size], candidates[test_size : test_size + valid_size]
    held_de = set(test) | set(valid)
    held_en = {first_reference[de] for de in held_de}
    train = [(de, en) for de, en in unique if de not in held_de and en not in held_en]
    rng.shuffle(train)
    return {
        "train": train,
        "valid": [(de, first_reference[de]) for de in valid],
        "test": [(de, first_reference[de]) for de in test],
    }


def prepare_freedict(
    folder: Path, valid_size: int = 500, test_size: int = 500, seed: int = 0,
    headwords: bool = False, headword_min_words: int = 1, dict_path: str = str(DICT_PATH),
) -> dict:
    """Write ``{train,valid,test}.{de,en}`` (line-aligned) into ``folder``.

    Args:
        folder: the (temporary) output folder.
        valid_size: validation sentences.
        test_size: test sentences.
        seed: the split seed.
        headwords: also train on headword translations, not only on examples.
        headword_min_words: with ``headwords``, keep only headwords of at least this many German
            words (3: the phrases and sentences, not the word list).
        dict_path: the dictd ``.dict.dz`` file.
    Returns:
        The info record: split counts, example and headword pair counts.
    """
    if not isinstance(headword_min_words, int) or headword_min_words < 1:
        raise DataError(f"freedict_de_en: headword_min_words={headword_min_words!r} (data.train.headword_min_words in "
                        "a config); expected a whole number >= 1 (1: every headword, 3: phrases and sentences)")
    pairs = [p for entry in read_entries(dict_path) for p in entry_pairs(entry)]
    kinds = {"example": len({p[:2] for p in pairs if p[2] == "example"}),
             "headword": len({p[:2] for p in pairs if p[2] == "headword"})}
    if not headwords:
        pairs = [p for p in pairs if p[2] == "example"]
    elif headword_min_words > 1:
        pairs = [p for p in pairs if p[2] == "example" or len(p[0].split()) >= headword_min_words]
    splits = split_pairs(pairs, valid_size, test_size, seed)
    for split, rows in splits.items():
        for side, language in enumerate(("de", "en")):
            text = "".join(row[side].replace("\n", " ") + "\n" for row in rows)
            (folder / f"{split}.{language}").write_text(text, encoding="utf-8")
    return {"splits": {s: len(rows) for s, rows in splits.items()}, "unique_pairs": kinds, "source": dict_path}


register_builtin(Builtin(
    "freedict_de_en", "German->English example sentences and phrases of FreeDict, headwords optional (dict-freedict-deu-eng)",
    prepare_freedict, {"valid_size": 500, "test_size": 500, "seed": 0, "headwords": False, "headword_min_words": 1,
     "dict_path": str(DICT_PATH)},
))


@DATASETS.register("freedict_de_en")
@gives(source=TEXT, target=TEXT)
def freedict_de_en(
    split: str = "train", root: str | None = None, max_chars: int = 1000, headwords: bool = False,
    headword_min_words: int = 1,
) -> ParallelTextDataset:
    """The FreeDict German->English pairs of one split, prepared on first use.

    Args:
        split: "train", "valid" or "test".
        root: the data root (see ``tformer.data.builtin.data_root``).
        max_chars: passed to ``ParallelTextDataset``.
        headwords: train on the headword translations too (778,605 more pairs; valid and test
            stay full sentences). Give every split the same value (the configs interpolate it):
            each other value prepares a copy of its own.
        headword_min_words: with ``headwords``, only headwords of at least this many German words
            (3: 66,879 phrase and sentence pairs such as "sich bei jdm. einschmeicheln").
    Returns:
        The split as a parallel-text dataset.
    """
    folder = prepared_folder("freedict_de_en", root, headwords=headwords, headword_min_words=headword_min_words)
    split = check_split(split)
    return ParallelTextDataset(folder / f"{split}.de", folder / f"{split}.en", max_chars=max_chars)
