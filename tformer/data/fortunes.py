"""English quotations, jokes and verse by topic from Debian's fortune cookies (packages fortunes, fortunes-min).

``/usr/share/games/fortunes/`` holds one file per topic (``computers``, ``songs-poems``...), entries
separated by lines holding only ``%``; beside them ``.dat`` indexes and ``.u8`` links (skipped), and
in older releases an ``off/`` folder of ROT13 "offensive" files (a folder: never read).

Each entry becomes one item, ``text`` and ``topic`` (the file name). Line breaks are kept: they
carry the form of poems, dialogues, lists and the final ``-- Author`` attribution, and flattening
is one ``" ".join(text.split())`` away for whoever wants it, while the reverse is impossible.
Attributions are kept as part of the text: the language model learns the form of a quotation,
and stripping them by pattern would also cut real lines that start with "--".
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter
from os import PathLike
from pathlib import Path
from typing import Any, Iterable

from tformer.data.builtin import SPLITS, Builtin, check_split, prepared_folder, register_builtin
from tformer.data.datasets import RawDataset
from tformer.data.errors import DataError
from tformer.kinds import LABEL, TEXT, gives
from tformer.registry import DATASETS

__all__ = [
    "FORTUNES_DIR", "SKIP_TOPICS", "fortune_files", "read_fortunes", "normalize", "deduplicate", "split_entries",
    "prepare_fortunes", "FortunesDataset", "fortunes",
]

FORTUNES_DIR = Path("/usr/share/games/fortunes")
SKIP_TOPICS = ("ascii-art",)  # pictures drawn with characters, not text (and whitespace normalization breaks them)
_INSTALL = "apt-get install -y fortunes"
_SKIPPED_SUFFIXES = {".dat", ".u8"}  # strfile indexes; UTF-8 links to the same files
# Overstruck accents (``'<BS>e``, a typewriter's way): the combining mark each stands for.
_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", ",": "\u0327"}
_LATIN1 = re.compile("[\u0080-\u00ff]")  # what UTF-8 read as Latin-1 is made of ("Â£" for "£")


def fortune_files(source_dir: str | PathLike = FORTUNES_DIR, skip_topics: Iterable[str] = SKIP_TOPICS) -> list[Path]:
    """The topic files of a fortunes folder, sorted by name.

    Args:
        source_dir: the folder (Debian: ``/usr/share/games/fortunes``).
        skip_topics: file names left out.
    Returns:
        The files: no ``.dat``/``.u8`` files, no subfolders (``off/``), none of ``skip_topics``.
    """
    folder, skipped = Path(source_dir), set(skip_topics)
    files = sorted(path for path in folder.glob("*") if path.is_file() and path.suffix not in _SKIPPED_SUFFIXES
                   and path.name not in skipped) if folder.is_dir() else []
    if not files:
        raise DataError(f"no fortune files in {folder}; install the fortune cookies: {_INSTALL}")
    return files


def read_fortunes(path: str | PathLike) -> list[str]:
    """The raw entries of one fortune file, in file order (empty ones included).

    Args:
        path: the file; entries are separated by lines holding only ``%``.
    Returns:
        The entries' texts.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    entries, lines = [], []
    for line in text.split("\n"):  # not splitlines(): a form feed inside an entry is no line break
        if line.rstrip("\r") == "%":
            entries.append("\n".join(lines))
            lines = []
        else:
            lines.append(line)
    entries.append("\n".join(lines))
    return entries


def _strike(old: str, new: str) -> str:
    """What a character typed over another shows: underline and bold marks dropped, accents combined."""
    if old in ("_", new):
        return new
    if new == "_":
        return old
    for mark, letter in ((old, new), (new, old)):
        if mark in _ACCENTS and letter.isalpha():
            return unicodedata.normalize("NFC", letter + _ACCENTS[mark])
    return new


def _overstrike(line: str) -> str:
    """Resolve backspaces as a terminal would (``___<BS><BS><BS>not`` is an underlined "not")."""
    if "\b" not in line:
        return line
    cells, position = [], 0
    for char in line:
        if char == "\b":
            position = max(0, position - 1)
            continue
        if position < len(cells):
            cells[position] = _strike(cells[position], char)
        else:
            cells.append(char)
        position += 1
    return "".join(cells)


def _undo_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1, once or repeatedly (``Ã¢Â\\x80Â\\x99`` -> ``’``); genuine
    Latin-1 letters ("é" alone) are no valid UTF-8 and stay."""
    while _LATIN1.search(text):
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            break
    return text


def normalize(entry: str) -> str:
    """One entry's text: line breaks kept, whitespace inside each line made single spaces.

    Backspace overstrikes are resolved, other control characters dropped, indentation and
    trailing spaces removed, runs of blank lines made one (a paragraph break), and blank lines
    at either end dropped.

    Args:
        entry: the raw entry.
    Returns:
        The normalized text ("" for an entry of only whitespace).
    """
    lines = []
    for line in _undo_mojibake(entry).split("\n"):
        visible = "".join(c for c in _overstrike(line) if c == "\t" or unicodedata.category(c) != "Cc")
        lines.append(" ".join(visible.split()))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _flat(text: str) -> str:
    """The duplicate key: the text with every run of whitespace (line breaks too) one space."""
    return " ".join(text.split())


def _family(text: str) -> str:
    """The near-duplicate key: lower-case letters and digits only ("-Andy Warhol" = "-- Andy Warhol")."""
    return re.sub(r"[\W_]+", "", text.lower()) or _flat(text)


def deduplicate(rows: Iterable[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
    """Keep the first of each text (up to whitespace), recording every topic it appears in.

    Args:
        rows: ``(topic, normalized text)`` in reading order; empty texts are dropped.
    Returns:
        ``(entries, duplicates)``: entries ``{"text", "topic", "topics"}`` (``topic`` where it was
        first read, ``topics`` all of them, sorted) and how many repeated texts were dropped.
    """
    kept: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for topic, text in rows:
        if not text:
            continue
        entry = kept.setdefault(_flat(text), {"text": text, "topic": topic, "topics": set()})
        duplicates += bool(entry["topics"])
        entry["topics"].add(topic)
    return [{**entry, "topics": sorted(entry["topics"])} for entry in kept.values()], duplicates


def _shares(count: int, valid_fraction: float, test_fraction: float) -> tuple[int, int]:
    """``(valid, test)`` counts of a topic's ``count`` families, rounded half up; train keeps at least one."""
    test = min(int(count * test_fraction + 0.5), max(count - 1, 0))
    valid = min(int(count * valid_fraction + 0.5), max(count - 1 - test, 0))
    return valid, test


def split_entries(
    entries: list[dict[str, Any]], valid_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Split entries by topic (each topic in the same proportions), keeping near-duplicates together.

    Entries equal up to case, punctuation and spacing form a family that goes to one split, the
    topic of its first entry deciding. Each topic's families are shuffled with a seed of their
    own (``"<seed>:<topic>"``), so a topic's split does not depend on the other files.

    Args:
        entries: deduplicated entries ``{"text", "topic", ...}``.
        valid_fraction: the share of each topic's families held out for validation.
        test_fraction: the share held out for testing.
        seed: the seed of the split and of the order inside each split.
    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``, each in a seeded random order.
    """
    if min(valid_fraction, test_fraction) < 0 or valid_fraction + test_fraction >= 1:
        raise DataError(f"fortunes: valid_fraction={valid_fraction} and test_fraction={test_fraction}; "
                        "expected shares >= 0 that leave some for training")
    families: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        families.setdefault(_family(entry["text"]), []).append(entry)
    by_topic: dict[str, list[str]] = {}
    for key, members in families.items():
        by_topic.setdefault(members[0]["topic"], []).append(key)
    splits: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    for topic, keys in sorted(by_topic.items()):
        keys.sort()
        random.Random(f"{seed}:{topic}").shuffle(keys)
        valid, test = _shares(len(keys), valid_fraction, test_fraction)
        parts = {"test": keys[:test], "valid": keys[test : test + valid], "train": keys[test + valid :]}
        for split, part in parts.items():
            splits[split] += [entry for key in part for entry in families[key]]
    order = random.Random(seed)
    for rows in splits.values():
        order.shuffle(rows)
    return splits


def prepare_fortunes(
    folder: Path, valid_fraction: float = 0.05, test_fraction: float = 0.05, seed: int = 0, max_chars: int = 1000,
    source_dir: str = str(FORTUNES_DIR), skip_topics: Iterable[str] = SKIP_TOPICS,
) -> dict:
    """Write ``{train,valid,test}.jsonl``, one entry ``{"text", "topic", "topics"}`` per line.

    Entries are normalized, deduplicated and split before the long ones are dropped, so an
    entry's split never depends on ``max_chars``.

    Args:
        folder: the (temporary) output folder.
        valid_fraction: the share of each topic for validation.
        test_fraction: the share of each topic for testing.
        seed: the split seed.
        max_chars: the longest text kept (characters, line breaks included).
        source_dir: the folder of fortune files.
        skip_topics: files left out.
    Returns:
        The info record: entries and characters per split, entries removed and why, topics.
    """
    if not isinstance(max_chars, int) or max_chars < 1:
        raise DataError(f"fortunes: max_chars={max_chars!r}; expected a whole number >= 1")
    files = fortune_files(source_dir, skip_topics)
    rows = [(path.name, normalize(entry)) for path in files for entry in read_fortunes(path)]
    entries, duplicates = deduplicate(rows)
    splits = split_entries(entries, valid_fraction, test_fraction, seed)
    topics: dict[str, Counter] = {split: Counter() for split in SPLITS}
    characters, too_long = {}, 0
    for split, entries_of_split in splits.items():
        kept = [entry for entry in entries_of_split if len(entry["text"]) <= max_chars]
        too_long += len(entries_of_split) - len(kept)
        lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in kept)
        (folder / f"{split}.jsonl").write_text(lines, encoding="utf-8")
        splits[split], characters[split] = kept, sum(len(entry["text"]) for entry in kept)
        topics[split].update(entry["topic"] for entry in kept)
    return {
        "splits": {split: len(kept) for split, kept in splits.items()},
        "characters": characters,
        "removed": {"empty": sum(not text for _, text in rows), "duplicates": duplicates,
                    f"longer_than_{max_chars}_chars": too_long},
        "topics": {name: {split: topics[split][name] for split in SPLITS} for name in sorted(p.name for p in files)},
        "source": source_dir,
    }


register_builtin(Builtin(
    "fortunes", "English quotations, jokes and verse, text and topic (file) per entry (fortunes)",
    prepare_fortunes, {"valid_fraction": 0.05, "test_fraction": 0.05, "seed": 0, "max_chars": 1000,
                       "source_dir": str(FORTUNES_DIR), "skip_topics": SKIP_TOPICS},
))


class FortunesDataset(RawDataset):
    """Prepared fortunes of one split, fields ``text`` (the entry) and ``topic`` (its file).

    Args:
        path: the split's ``.jsonl`` file (``tformer-data fortunes``).
    """

    fields = {"text": TEXT, "topic": LABEL}

    def __init__(self, path: str | PathLike):
        self.path = Path(path)
        entries = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        super().__init__({"text": [e["text"] for e in entries], "topic": [e["topic"] for e in entries]})

    def size_hints(self) -> dict[str, list[float]]:
        """Characters per text, and 1 per topic (see ``RawDataset.size_hints``)."""
        return {"text": [float(len(text)) for text in self.column("text")], "topic": [1.0] * len(self)}


@DATASETS.register("fortunes")
@gives(text=TEXT, topic=LABEL)
def fortunes(split: str = "train", root: str | None = None, max_chars: int = 1000) -> FortunesDataset:
    """One split of the fortunes corpus, prepared on first use (a few seconds).

    Args:
        split: "train", "valid" or "test".
        root: the data root (see ``tformer.data.builtin.data_root``).
        max_chars: the longest entry kept; another value prepares a copy of its own, with the same
            split of every entry (give every split the same value; the config interpolates it).
    Returns:
        Items ``{"text", "topic"}``; the text keeps its line breaks.
    """
    folder = prepared_folder("fortunes", root, max_chars=max_chars)
    return FortunesDataset(folder / f"{check_split(split)}.jsonl")
