"""Tagged text: one tag per word in one or more tag fields, from JSON lines.

Each line is an object with a text field and tag fields, each a string of whitespace-separated
tags with one tag per word: ``{"text": "where is it", "punctuation": "O O QUESTION", "case":
"UPPER LOWER LOWER"}``. The text is re-joined with single spaces (the words are what the tags
count). A line whose tag count differs from its word count, or that is not such an object,
follows ``on_bad_line``: "error" (the default, naming file and line) or "skip" (counted).
"""

from __future__ import annotations

import json
from os import PathLike
from typing import Sequence

from tformer.data.datasets import RawDataset
from tformer.data.errors import BadLines, DataError, check_choice, read_lines, require_path
from tformer.kinds import TEXT
from tformer.registry import DATASETS

__all__ = ["TaggedTextDataset"]


@DATASETS.register("tagged_text")
class TaggedTextDataset(RawDataset):
    """Words with tags, from a JSON-lines file (see the module docstring).

    Args:
        path: the ``.jsonl`` file.
        tag_fields: the keys holding tags; each becomes a field of the items.
        text_field: the key holding the words.
        on_bad_line: "error" or "skip".
    """

    def __init__(self, path: str | PathLike, tag_fields: Sequence[str] = ("tags",), text_field: str = "text",
                 on_bad_line: str = "error"):
        self.path = require_path(path, "a JSON-lines file of {\"text\": words, tag field: tags} objects")
        if not tag_fields:
            raise DataError(f"{self.path}: tag_fields is empty; name the keys that hold tags, e.g. ['tags']")
        self.text_field, self.tag_fields = text_field, list(tag_fields)
        self.fields = {name: TEXT for name in (text_field, *self.tag_fields)}
        bad = BadLines(str(self.path), check_choice("on_bad_line", on_bad_line, ("error", "skip")))
        columns: dict[str, list[str]] = {name: [] for name in self.fields}
        for number, line in enumerate(read_lines(self.path), start=1):
            if not line.strip():
                continue
            row, problem = self._parse(line)
            if problem:
                bad.add(number, problem)
            else:
                for name, value in row.items():
                    columns[name].append(value)
        super().__init__(columns)
        bad.warn()
        self.bad_lines = bad.count

    def _parse(self, line: str) -> tuple[dict[str, str], str | None]:
        """The line's fields (words single-spaced), or what is wrong with it."""
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            return {}, f"not JSON ({error.msg})"
        missing = [k for k in self.fields if not isinstance(row, dict) or not isinstance(row.get(k), str)]
        if missing:
            return {}, f"no string {', '.join(map(repr, missing))}"
        words = row[self.text_field].split()
        if not words:
            return {}, "no words"
        for name in self.tag_fields:
            tags = row[name].split()
            if len(tags) != len(words):
                return {}, f"{len(words)} words but {len(tags)} {name} tags"
        return {self.text_field: " ".join(words), **{name: " ".join(row[name].split()) for name in self.tag_fields}}, None

    def size_hints(self) -> dict[str, list[float]]:
        """Characters per text, words per tag line (see ``RawDataset.size_hints``)."""
        hints = {self.text_field: [float(len(t)) for t in self.column(self.text_field)]}
        return hints | {name: [float(len(t.split())) for t in self.column(name)] for name in self.tag_fields}
