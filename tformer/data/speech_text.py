"""Texts to synthesize: connected digit strings and short, simple English sentences."""

from __future__ import annotations

import random
from typing import Callable

__all__ = ["DIGIT_WORDS", "digit_string", "simple_sentence", "unique_texts", "texts_for_splits"]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_NOUNS = (
    "cat", "dog", "bird", "horse", "fish", "child", "teacher", "doctor", "farmer", "boat",
    "car", "train", "house", "garden", "river", "apple", "letter", "book", "table", "window",
    "door", "ball", "cup", "hat", "coat", "key", "box", "tree", "road", "city",
)
_ADJECTIVES = (
    "big", "small", "red", "green", "blue", "old", "young", "happy", "quiet", "loud",
    "warm", "cold", "fast", "slow", "new", "dark", "bright", "heavy", "clean", "empty",
)
_VERBS = (
    "sees", "finds", "takes", "likes", "wants", "opens", "closes", "moves", "paints", "washes",
    "brings", "sells", "buys", "carries", "watches", "follows", "holds", "keeps", "needs", "calls",
)
_NAMES = ("anna", "peter", "maria", "john", "lisa", "tom", "sarah", "david", "emma", "paul")
_PLACES = ("in the garden", "near the river", "at home", "in the city", "on the road", "by the window")
_TIMES = ("today", "every morning", "at night", "in the evening", "on monday", "again")


def digit_string(rng: random.Random, min_digits: int = 1, max_digits: int = 7) -> tuple[str, str, int]:
    """A random connected digit string.

    Args:
        rng: the random source.
        min_digits: the fewest digits.
        max_digits: the most digits.
    Returns:
        ``(words, digits, count)``, e.g. ``("three one four", "314", 3)``.
    """
    digits = [rng.randrange(10) for _ in range(rng.randint(min_digits, max_digits))]
    return " ".join(DIGIT_WORDS[d] for d in digits), "".join(map(str, digits)), len(digits)


def _noun_phrase(rng: random.Random) -> str:
    article = rng.choice(("the", "a", "my", "your", "this"))
    if rng.random() < 0.5:
        return f"{article} {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    return f"{article} {rng.choice(_NOUNS)}"


def simple_sentence(rng: random.Random) -> str:
    """A short English sentence from a small grammar, lower case without punctuation.

    Args:
        rng: the random source.
    Returns:
        E.g. "the old dog sees a red ball in the garden".
    """
    subject = rng.choice(_NAMES) if rng.random() < 0.3 else _noun_phrase(rng)
    pattern = rng.randrange(4)
    if pattern == 0:
        sentence = f"{subject} {rng.choice(_VERBS)} {_noun_phrase(rng)}"
    elif pattern == 1:
        sentence = f"{subject} is {rng.choice(_ADJECTIVES)}"
    elif pattern == 2:
        sentence = f"where is {_noun_phrase(rng)}"
    else:
        sentence = f"{subject} {rng.choice(_VERBS)} {_noun_phrase(rng)} {rng.choice(_PLACES)}"
    if rng.random() < 0.3:
        sentence += " " + rng.choice(_TIMES)
    return sentence


def unique_texts(make: Callable, rng: random.Random, count: int, exclude: set[str], min_words: int = 3) -> list[str]:
    """Draw ``count`` texts with ``make(rng)``, skipping those in ``exclude`` that have ``min_words`` or more.

    Short texts (a single digit, a two-word sentence) are too few to keep apart between splits.

    Args:
        make: a function of ``rng`` returning a text (or a tuple whose first element is the text).
        rng: the random source.
        count: how many texts.
        exclude: texts reserved for other splits.
        min_words: the length from which a text must not be in ``exclude``.
    Returns:
        The texts (a tuple per text when ``make`` returns tuples).
    """
    texts = []
    while len(texts) < count:
        text = make(rng)
        words = text[0] if isinstance(text, tuple) else text
        if len(words.split()) >= min_words and words in exclude:
            continue
        texts.append(text)
    return texts


def texts_for_splits(make: Callable, sizes: dict[str, int], seed: int) -> dict[str, list]:
    """Draw each split's texts; texts of 3+ words in valid or test never appear in train.

    Args:
        make: a function of a ``random.Random`` returning a text (or a tuple starting with one).
        sizes: the number of texts per split.
        seed: the seed.
    Returns:
        The texts per split, test and valid drawn first.
    """
    rng = random.Random(seed)
    texts = {"test": [make(rng) for _ in range(sizes["test"])], "valid": [make(rng) for _ in range(sizes["valid"])]}
    held = {t[0] if isinstance(t, tuple) else t for split in ("test", "valid") for t in texts[split]}
    texts["train"] = unique_texts(make, rng, sizes["train"], held)
    return {split: texts[split] for split in ("train", "valid", "test")}
