"""What raw items are: the kinds a data set gives on each side and the kinds a tokenizer reads.

A data set (a class, a builder function or an instance) declares ``source_kind`` and
``target_kind``; a tokenizer declares ``reads``, the kinds its ``prepare`` takes. A composition
whose data gives what a tokenizer cannot read is refused before anything is prepared. Either
side without a declaration (a user's own class) is not checked.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, TypeVar

__all__ = ["TEXT", "IMAGE", "AUDIO", "LABEL", "KINDS", "SIDES", "Mismatch", "gives", "kind_of", "reads_of",
           "mismatches", "describe"]

TEXT = "text"  # a string of words or characters
IMAGE = "image"  # an image file's path, or an array of pixels
AUDIO = "audio"  # an audio file's path, or a waveform
LABEL = "label"  # a class name
KINDS = (TEXT, IMAGE, AUDIO, LABEL)
SIDES = ("source", "target")
_PLURAL = {TEXT: "text", IMAGE: "images", AUDIO: "audio", LABEL: "labels"}
T = TypeVar("T")


class Mismatch(NamedTuple):
    """One side whose data gives a kind its tokenizer does not read."""

    side: str  # "source" or "target"
    given: str  # the kind the data set gives
    reads: tuple[str, ...]  # the kinds the tokenizer reads


def _checked(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of raw item {kind!r}; kinds: {', '.join(KINDS)}")
    return kind


def gives(source: str, target: str) -> Callable[[T], T]:
    """Decorator for a data set builder function: declare the kinds of its raw items.

    Args:
        source: the kind of the source items (one of ``KINDS``).
        target: the kind of the target items.
    Returns:
        A decorator that sets ``source_kind`` and ``target_kind`` on the builder.
    """
    for kind in (source, target):
        _checked(kind)

    def decorator(builder: T) -> T:
        builder.source_kind, builder.target_kind = source, target  # type: ignore[attr-defined]
        return builder

    return decorator


def kind_of(dataset: Any, side: str) -> str | None:
    """The kind ``dataset`` (class, builder or instance) declares for ``side``, or None."""
    return getattr(dataset, f"{side}_kind", None)


def reads_of(tokenizer: Any) -> tuple[str, ...] | None:
    """The kinds ``tokenizer`` (class or instance) declares it reads, or None."""
    reads = getattr(tokenizer, "reads", None)
    return None if reads is None else tuple(reads)


def mismatches(dataset: Any, source: Any, target: Any) -> list[Mismatch]:
    """The sides on which ``dataset`` gives a kind its tokenizer does not read.

    Args:
        dataset: a data set class, builder function or instance.
        source: the source tokenizer (class or instance).
        target: the target tokenizer (class or instance).
    Returns:
        One ``Mismatch`` per side that does not fit; a side where either part has no
        declaration is taken to fit.
    """
    found = []
    for side, tokenizer in zip(SIDES, (source, target)):
        given, reads = kind_of(dataset, side), reads_of(tokenizer)
        if given is not None and reads is not None and given not in reads:
            found.append(Mismatch(side, given, reads))
    return found


def describe(kinds: str | tuple[str, ...], conjunction: str = "and") -> str:
    """Kinds in words: ``"images"``, ``"text and labels"`` (``"text or labels"``)."""
    words = [_PLURAL.get(kind, kind) for kind in ((kinds,) if isinstance(kinds, str) else kinds)]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
