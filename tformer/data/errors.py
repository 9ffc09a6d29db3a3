"""Data errors, the bad-line policy and line reading shared by the file-format datasets."""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path

__all__ = ["DataError", "DataWarning", "BadLines", "POLICIES", "check_choice", "require_path", "read_lines"]

POLICIES = ("skip", "truncate", "error")


class DataError(ValueError):
    """A data file or folder is missing, malformed or inconsistent; the message names it."""


class DataWarning(UserWarning):
    """Something in the data was skipped or changed; the message says what and how often."""


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``; raise ``ValueError`` naming them otherwise.

    Args:
        name: the argument name, for the message.
        value: the given value.
        choices: the allowed values.
    Returns:
        ``value`` unchanged.
    """
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, choices))}")
    return value


def require_path(path: str | PathLike, expected: str, folder: bool = False) -> Path:
    """Return ``path`` as a ``Path``, or raise ``DataError`` naming it and what was expected there.

    Args:
        path: a file or folder that must exist.
        expected: what should be there, e.g. "a TSV file (text<TAB>label)".
        folder: whether ``path`` must be a folder rather than a file.
    Returns:
        The path.
    """
    path = Path(path).expanduser()
    exists = path.is_dir() if folder else path.is_file()
    if not exists:
        kind = "folder" if folder else "file"
        found = "" if not path.exists() else f" (it exists but is not a {kind})"
        raise DataError(f"{path}: no such {kind}{found}; expected {expected}")
    return path


def read_lines(path: Path) -> list[str]:
    """Read a UTF-8 text file as lines split on '\\n' only (not on other Unicode breaks).

    Args:
        path: the file; a UTF-8 byte-order mark and '\\r\\n' endings are accepted.
    Returns:
        The lines without their line endings; a final newline does not add an empty line.
    """
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    chunks = raw.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    lines = []
    for number, chunk in enumerate(chunks, start=1):
        try:
            lines.append(chunk.rstrip(b"\r").decode("utf-8"))
        except UnicodeDecodeError as error:
            raise DataError(f"{path}:{number}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    return lines


class BadLines:
    """Collects the lines of one file that were skipped or truncated, and warns once with a summary.

    Args:
        where: the file (or files) the line numbers refer to, for messages.
        policy: "skip", "truncate" or "error" (raise ``DataError`` at the first bad line).
        shown: how many line numbers the summary lists.
    """

    def __init__(self, where: str, policy: str, shown: int = 5):
        self.where = where
        self.policy = check_choice("on_bad_line", policy, POLICIES)
        self.shown = shown
        self.lines: dict[str, list[int]] = {}

    def add(self, number: int, problem: str, action: str = "skipped") -> None:
        """Record line ``number`` (1-based) with ``problem``; raise instead under the "error" policy.

        Args:
            number: the 1-based line number.
            problem: what is wrong with it, e.g. "empty line".
            action: what was done, "skipped" or "truncated".
        """
        if self.policy == "error":
            raise DataError(f"{self.where}:{number}: {problem} (pass on_bad_line='skip' to skip such lines)")
        self.lines.setdefault(f"{action} ({problem})", []).append(number)

    @property
    def count(self) -> int:
        """The number of lines skipped or truncated."""
        return sum(len(numbers) for numbers in self.lines.values())

    def warn(self) -> None:
        """Emit one ``DataWarning`` summarizing every recorded line, if there is any."""
        if not self.lines:
            return
        parts = []
        for what, numbers in self.lines.items():
            first = ", ".join(map(str, numbers[: self.shown]))
            more = ", ..." if len(numbers) > self.shown else ""
            parts.append(f"{len(numbers)} line(s) {what}, at lines {first}{more}")
        warnings.warn(f"{self.where}: " + "; ".join(parts), DataWarning, stacklevel=3)
