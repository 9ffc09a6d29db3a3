"""What a run prints: tformer's own lines and warnings, without the libraries' chatter."""

from __future__ import annotations

import logging
import warnings

__all__ = ["ConsoleFormatter", "quiet_libraries"]

# Library messages that tell a tformer user nothing they can act on.
_IGNORED_WARNINGS = (
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),  # Lightning on torch 2.11
)


class ConsoleFormatter(logging.Formatter):
    """Info lines as plain messages; warnings and errors with their level in front."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


def quiet_libraries() -> None:
    """Keep Lightning's warnings but not its notes (device lists, tips, "Seed set to"), and show
    Python warnings as one line each (``DataWarning: ...``) instead of a file, line and source."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning_fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for category, message in _IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    warnings.formatwarning = _one_line


def _one_line(message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None) -> str:
    return f"{category.__name__}: {message}\n"
