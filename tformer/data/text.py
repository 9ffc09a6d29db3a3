"""Text datasets: parallel text (two line-aligned files or a TSV) and labeled text (TSV)."""

from __future__ import annotations

from os import PathLike

from tformer.data.datasets import RawDataset
from tformer.data.errors import BadLines, DataError, read_lines, require_path
from tformer.kinds import LABEL, TEXT
from tformer.registry import DATASETS

__all__ = ["ParallelTextDataset", "LabeledTextDataset"]


@DATASETS.register("parallel_text")
class ParallelTextDataset(RawDataset):
    """Sentence pairs from two line-aligned files, or from one TSV file (``source<TAB>target``).

    Empty lines and lines longer than ``max_chars`` follow ``on_bad_line``: "skip" drops the
    pair, "truncate" cuts long lines to ``max_chars`` (and drops empty ones), "error" raises
    ``DataError`` naming the file and line. Dropped or cut lines are counted in one warning.

    Args:
        source_path: the source-side file, or the TSV file when ``target_path`` is None.
        target_path: the target-side file, line-aligned with ``source_path``.
        max_chars: the longest line kept as is.
        on_bad_line: "skip", "truncate" or "error".
    """

    fields = {"source": TEXT, "target": TEXT}

    def __init__(
        self,
        source_path: str | PathLike,
        target_path: str | PathLike | None = None,
        max_chars: int = 1000,
        on_bad_line: str = "skip",
    ):
        self.max_chars = max_chars
        if target_path is None:
            path = require_path(source_path, "a TSV file with lines 'source<TAB>target'")
            self.files = str(path)
            bad = BadLines(self.files, on_bad_line)
            rows = self._split_tsv(read_lines(path), bad)
        else:
            rows = self._read_aligned(source_path, target_path)
            bad = BadLines(self.files, on_bad_line)
        super().__init__(_columns(self._check_pairs(rows, bad)))
        bad.warn()
        self.bad_lines = bad.count

    def _read_aligned(self, source_path: str | PathLike, target_path: str | PathLike) -> list:
        source_file = require_path(source_path, "a text file with one source sentence per line")
        target_file = require_path(target_path, "a text file with one target sentence per line")
        self.files = f"{source_file} / {target_file}"
        sources, targets = read_lines(source_file), read_lines(target_file)
        if len(sources) != len(targets):
            raise DataError(
                f"{source_file} has {len(sources)} lines but {target_file} has {len(targets)}; "
                "parallel files must be line-aligned (one sentence pair per line number)"
            )
        return [(number, s, t) for number, (s, t) in enumerate(zip(sources, targets), start=1)]

    @staticmethod
    def _split_tsv(lines: list[str], bad: BadLines) -> list[tuple[int, str, str]]:
        rows = []
        for number, line in enumerate(lines, start=1):
            fields = line.split("\t")
            if len(fields) != 2:
                bad.add(number, f"expected 2 tab-separated fields (source, target), found {len(fields)}")
                continue
            rows.append((number, fields[0], fields[1]))
        return rows

    def _check_pairs(self, rows: list[tuple[int, str, str]], bad: BadLines) -> list[tuple[str, str]]:
        pairs = []
        for number, source, target in rows:
            source, target = source.strip(), target.strip()
            if not source or not target:
                bad.add(number, "empty line")
                continue
            if max(len(source), len(target)) > self.max_chars:
                problem = f"longer than max_chars={self.max_chars}"
                if bad.policy != "truncate":
                    bad.add(number, problem)
                    continue
                bad.add(number, problem, action="truncated")
                source, target = source[: self.max_chars], target[: self.max_chars]
            pairs.append((source, target))
        return pairs


@DATASETS.register("labeled_text")
class LabeledTextDataset(RawDataset):
    """Texts with labels from a TSV file, ``text<TAB>label`` (split at the last tab).

    A line without a tab, with an empty text or label, or longer than ``max_chars`` follows
    ``on_bad_line`` ("error" by default, naming file and line; "skip" drops it with a count;
    "truncate" cuts long texts).

    Args:
        path: the TSV file.
        max_chars: the longest text kept as is.
        on_bad_line: "error", "skip" or "truncate".
    """

    fields = {"source": TEXT, "target": LABEL}

    def __init__(self, path: str | PathLike, max_chars: int = 1000, on_bad_line: str = "error"):
        self.path = require_path(path, "a TSV file with lines 'text<TAB>label'")
        self.max_chars = max_chars
        bad = BadLines(str(self.path), on_bad_line)
        super().__init__(_columns(self._parse(read_lines(self.path), bad)))
        bad.warn()
        self.bad_lines = bad.count

    def _parse(self, lines: list[str], bad: BadLines) -> list[tuple[str, str]]:
        pairs = []
        for number, line in enumerate(lines, start=1):
            text, tab, label = line.rpartition("\t")
            text, label = text.strip(), label.strip()
            if not tab:
                bad.add(number, "no tab; expected 'text<TAB>label'")
            elif not text or not label:
                bad.add(number, "empty text or label")
            elif len(text) > self.max_chars and bad.policy != "truncate":
                bad.add(number, f"longer than max_chars={self.max_chars}")
            else:
                if len(text) > self.max_chars:
                    bad.add(number, f"longer than max_chars={self.max_chars}", action="truncated")
                pairs.append((text[: self.max_chars], label))
        return pairs

    def size_hints(self) -> dict[str, list[float]]:
        """Characters per text, and 1 per label (see ``RawDataset.size_hints``)."""
        return {"source": [float(len(text)) for text in self.column("source")], "target": [1.0] * len(self)}

    def labels(self) -> list[str]:
        """The distinct labels, sorted."""
        return sorted(set(self.column("target")))


def _columns(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    return {"source": [source for source, _ in pairs], "target": [target for _, target in pairs]}
