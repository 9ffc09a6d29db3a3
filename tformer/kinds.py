"""What raw items are: the kinds each field of a data set holds and the kinds a tokenizer reads.

A data set (a class, a builder function or an instance) declares ``fields``, field name ->
kind; a tokenizer declares ``reads``, the kinds its ``prepare`` takes. A composition whose
data gives a task's field in a kind its tokenizer cannot read, or lacks the field, is refused
before anything is prepared. A part without a declaration (a user's own class) is not checked.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, TypeVar

__all__ = ["TEXT", "IMAGE", "AUDIO", "LABEL", "BOXES", "KINDS", "Mismatch", "gives", "fields_of", "reads_of",
           "mismatches", "describe"]

TEXT = "text"  # a string of words or characters
IMAGE = "image"  # an image file's path, or an array of pixels
AUDIO = "audio"  # an audio file's path, or a waveform
LABEL = "label"  # a class name
BOXES = "boxes"  # objects on an image: {"boxes": pixel [x0, y0, x1, y1] each, "labels", "width", "height"}
KINDS = (TEXT, IMAGE, AUDIO, LABEL, BOXES)
_PLURAL = {TEXT: "text", IMAGE: "images", AUDIO: "audio", LABEL: "labels", BOXES: "boxes"}
T = TypeVar("T")


class Mismatch(NamedTuple):
    """One task field whose data column holds a kind its tokenizer does not read."""

    field: str  # the task's field ("source", "text")
    column: str  # the data set's field it reads
    given: str  # the kind the data set gives there
    reads: tuple[str, ...]  # the kinds the tokenizer reads


def _checked(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of raw item {kind!r}; kinds: {', '.join(KINDS)}")
    return kind


def gives(**fields: str) -> Callable[[T], T]:
    """Decorator for a data set builder function: declare its fields and their kinds,
    ``@gives(source=AUDIO, target=TEXT)``.

    Returns:
        A decorator that sets ``fields`` (name -> kind) on the builder.
    """
    declared = {name: _checked(kind) for name, kind in fields.items()}

    def decorator(builder: T) -> T:
        builder.fields = declared  # type: ignore[attr-defined]
        return builder

    return decorator


def fields_of(dataset: Any) -> dict[str, str] | None:
    """The fields ``dataset`` (class, builder or instance) declares, name -> kind, or None."""
    fields = getattr(dataset, "fields", None)
    return dict(fields) if isinstance(fields, Mapping) else None


def reads_of(tokenizer: Any) -> tuple[str, ...] | None:
    """The kinds ``tokenizer`` (class or instance) declares it reads, or None."""
    reads = getattr(tokenizer, "reads", None)
    return None if reads is None else tuple(reads)


def mismatches(given: Mapping[str, str], tokenizers: Mapping[str, Any], columns: Mapping[str, str]) -> list[Mismatch]:
    """The task fields whose data column holds a kind their tokenizer does not read.

    Args:
        given: the data set's fields, name -> kind.
        tokenizers: the task's fields, name -> tokenizer (class or instance).
        columns: the data field each task field reads (the same name where absent).
    Returns:
        One ``Mismatch`` per field that does not fit; a field that the data lacks, or whose
        tokenizer declares nothing, is not one (the first is reported on its own).
    """
    found = []
    for field, tokenizer in tokenizers.items():
        column = columns.get(field, field)
        kind, reads = given.get(column), reads_of(tokenizer)
        if kind is not None and reads is not None and kind not in reads:
            found.append(Mismatch(field, column, kind, reads))
    return found


def describe(kinds: str | tuple[str, ...], conjunction: str = "and") -> str:
    """Kinds in words: ``"images"``, ``"text and labels"`` (``"text or labels"``)."""
    words = [_PLURAL.get(kind, kind) for kind in ((kinds,) if isinstance(kinds, str) else kinds)]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
