"""Punctuation and capitalization restoration: text in, one punctuation and one case tag per word.

What an ASR model writes ("where is the station") is what this data teaches a tagger to mend
("Where is the station?"). Each word gets the mark that follows it (``O`` for none, ``COMMA``,
``PERIOD``, ``QUESTION``, ``EXCLAMATION``) and its case (``LOWER``, ``UPPER`` for a capital first
letter, ``ALL`` for a word in capitals); the input is the words lower-cased with punctuation at
their ends stripped ("don't" and "e-mail" keep theirs). NeMo's punctuation-and-capitalization
model tags the same way. ``restore`` puts a tagged line back together.

The built-in ``punctuation_en`` is the English side of ``freedict_de_en`` with its splits;
``punctuation_fortunes`` is the ``fortunes`` corpus with its splits, which has ten times as many
words in capitals (train on both with ``RawConcat``).
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from pathlib import Path
from typing import Sequence

from tformer.data.builtin import SPLITS, Builtin, check_split, prepared_folder, register_builtin
from tformer.data.fortunes import FORTUNES_DIR, FortunesDataset, prepare_fortunes
from tformer.data.freedict import DICT_PATH, prepare_freedict
from tformer.data.tagged import TaggedTextDataset
from tformer.kinds import TEXT, gives
from tformer.registry import DATASETS

__all__ = ["MARKS", "tag_words", "restore", "prepare_punctuation", "prepare_punctuation_fortunes", "punctuation_en",
           "punctuation_fortunes"]

MARKS = {",": "COMMA", ".": "PERIOD", "?": "QUESTION", "!": "EXCLAMATION"}
_SIGN = {tag: mark for mark, tag in MARKS.items()}


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def _case(word: str) -> str:
    letters = [c for c in word if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return "ALL"
    return "UPPER" if letters and letters[0].isupper() else "LOWER"


def _mark(trailing: str) -> str:
    """The tag of the marks after a word: its first of , . ? ! ("?!" asks, "..." ends)."""
    return next((MARKS[c] for c in trailing if c in MARKS), "O")


def tag_words(text: str) -> tuple[list[str], list[str], list[str]]:
    """Split ``text`` into lower-cased words and their punctuation and case tags.

    Args:
        text: a line of ordinary text.
    Returns:
        ``(words, punctuation, case)``, three lists of one entry per word. A token of
        punctuation only ("-", "...") is no word; its mark goes to the word before it.
    """
    words, marks, cases = [], [], []
    for token in text.split():
        end = len(token)
        while end and _is_punctuation(token[end - 1]):
            end -= 1
        start = 0
        while start < end and _is_punctuation(token[start]):
            start += 1
        core, mark = token[start:end], _mark(token[end:])
        if not core:
            if words and marks[-1] == "O":
                marks[-1] = mark
            continue
        words.append(core.lower())
        marks.append(mark)
        cases.append(_case(core))
    return words, marks, cases


def restore(words: Sequence[str], punctuation: Sequence[str], case: Sequence[str]) -> str:
    """Words and their tags -> the text ("where is it", O O QUESTION, UPPER LOWER LOWER -> "Where is it?")."""
    out = []
    for word, mark, kind in zip(words, punctuation, case, strict=True):
        if kind == "ALL":
            word = word.upper()
        elif kind == "UPPER":
            word = word[:1].upper() + word[1:]
        out.append(word + _SIGN.get(mark, ""))
    return " ".join(out)


def _write_tagged(folder: Path, split: str, texts: Sequence[str], tags: dict[str, int]) -> int:
    """Write ``folder/<split>.jsonl`` of the texts' tagged words; count training tags into ``tags``."""
    rows = []
    for text in texts:
        words, marks, cases = tag_words(text)
        if words:
            rows.append({"text": " ".join(words), "punctuation": " ".join(marks), "case": " ".join(cases)})
            if split == "train":
                for tag in (*marks, *cases):
                    tags[tag] = tags.get(tag, 0) + 1
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                          encoding="utf-8")
    return len(rows)


def prepare_punctuation(folder: Path, valid_size: int = 500, test_size: int = 500, seed: int = 0,
                        dict_path: str = str(DICT_PATH)) -> dict:
    """Write ``{train,valid,test}.jsonl`` of tagged English lines: freedict_de_en's English side and splits.

    Args:
        folder: the (temporary) output folder.
        valid_size, test_size, seed, dict_path: as for ``freedict_de_en`` (the same splits).
    Returns:
        The info record: lines per split, and how often each tag occurs in training.
    """
    counts: dict[str, int] = {}
    tags: dict[str, int] = {}
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        prepare_freedict(Path(scratch), valid_size, test_size, seed, dict_path=dict_path)
        for split in SPLITS:
            lines = (Path(scratch) / f"{split}.en").read_text(encoding="utf-8").splitlines()
            counts[split] = _write_tagged(folder, split, lines, tags)
    return {"splits": counts, "train_tags": dict(sorted(tags.items()))}


def prepare_punctuation_fortunes(folder: Path, max_chars: int = 1000, source_dir: str = str(FORTUNES_DIR)) -> dict:
    """Write ``{train,valid,test}.jsonl`` of tagged fortunes: the ``fortunes`` entries and splits.

    Args:
        folder: the (temporary) output folder.
        max_chars, source_dir: as for ``fortunes`` (the same entries and splits).
    Returns:
        The info record: entries per split, and how often each tag occurs in training.
    """
    counts: dict[str, int] = {}
    tags: dict[str, int] = {}
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        prepare_fortunes(Path(scratch), max_chars=max_chars, source_dir=source_dir)
        for split in SPLITS:
            entries = FortunesDataset(Path(scratch) / f"{split}.jsonl").column("text")
            counts[split] = _write_tagged(folder, split, entries, tags)
    return {"splits": counts, "train_tags": dict(sorted(tags.items()))}


register_builtin(Builtin(
    "punctuation_en", "English lines of freedict_de_en tagged with the punctuation after each word and its case",
    prepare_punctuation, {"valid_size": 500, "test_size": 500, "seed": 0, "dict_path": str(DICT_PATH)},
))
register_builtin(Builtin(
    "punctuation_fortunes", "fortunes entries tagged with the punctuation after each word and its case",
    prepare_punctuation_fortunes, {"max_chars": 1000, "source_dir": str(FORTUNES_DIR)},
))


@DATASETS.register("punctuation_en")
@gives(text=TEXT, punctuation=TEXT, case=TEXT)
def punctuation_en(split: str = "train", root: str | None = None) -> TaggedTextDataset:
    """One split of ``punctuation_en``, prepared on first use (a few seconds).

    Args:
        split: "train", "valid" or "test" (freedict_de_en's).
        root: the data root (see ``tformer.data.builtin.data_root``).
    Returns:
        Items ``{"text", "punctuation", "case"}``: lower-cased words and a tag per word in each tag field.
    """
    folder = prepared_folder("punctuation_en", root)
    return TaggedTextDataset(folder / f"{check_split(split)}.jsonl", tag_fields=("punctuation", "case"))


@DATASETS.register("punctuation_fortunes")
@gives(text=TEXT, punctuation=TEXT, case=TEXT)
def punctuation_fortunes(split: str = "train", root: str | None = None) -> TaggedTextDataset:
    """One split of ``punctuation_fortunes``, prepared on first use (about a minute).

    Args:
        split: "train", "valid" or "test" (fortunes').
        root: the data root (see ``tformer.data.builtin.data_root``).
    Returns:
        Items as ``punctuation_en``'s: quotations, jokes and verse, with many more words in
        capitals (5,216 in training against freedict's 545), questions and exclamations.
    """
    folder = prepared_folder("punctuation_fortunes", root)
    return TaggedTextDataset(folder / f"{check_split(split)}.jsonl", tag_fields=("punctuation", "case"))
