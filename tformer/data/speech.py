"""Built-in speech data sets: digit strings and simple sentences synthesized by espeak-ng, and on
request also by flite and festival (``synthesizers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tformer.data.audio import ManifestDataset
from tformer.data.builtin import Builtin, check_split, prepared_folder, register_builtin
from tformer.data.synthesis import check_synthesizers, prepare_speech
from tformer.data.synthesizers import check_stretch
from tformer.data.speech_text import digit_string, simple_sentence, texts_for_splits
from tformer.kinds import AUDIO, TEXT, gives
from tformer.registry import DATASETS

__all__ = ["prepare_espeak_digits", "prepare_espeak_sentences", "espeak_digits", "espeak_sentences"]

_SIZES = {"train_size": 3000, "valid_size": 200, "test_size": 300, "seed": 0, "synthesizers": ["espeak"], "stretch": None}
_DIGITS_SIZES = {**_SIZES, "train_size": 12000}  # about 3 minutes of synthesis; 3,000 overfit the voices


def prepare_espeak_digits(
    folder: Path, train_size: int = 12000, valid_size: int = 200, test_size: int = 300, seed: int = 0,
    synthesizers: Sequence[str] = ("espeak",), stretch: Sequence[float] | None = None,
) -> dict:
    """Synthesize connected digit strings of 1-7 digits; the text is the spoken words.

    Manifest entries carry ``text`` ("three one four"), ``digits`` ("314") and ``n_digits`` (3).

    Args:
        folder: the (temporary) output folder.
        train_size: training utterances.
        valid_size: validation utterances.
        test_size: test utterances.
        seed: the seed of texts and voices.
        synthesizers: who speaks, a list from espeak, flite, festival, espeak_one_voice (``tformer.data.synthesis``).
        stretch: ``[low, high]`` duration factors (1: 160 words a minute; 1.5: slower), or None for
            each synthesizer's own range.
    Returns:
        The info record.
    """
    sizes = {"train": train_size, "valid": valid_size, "test": test_size}
    texts = texts_for_splits(digit_string, sizes, seed)
    return prepare_speech(folder, texts, seed, extra_keys=("digits", "n_digits"), synthesizers=synthesizers,
                         stretch=stretch)


def prepare_espeak_sentences(
    folder: Path, train_size: int = 3000, valid_size: int = 200, test_size: int = 300, seed: int = 0,
    synthesizers: Sequence[str] = ("espeak",), stretch: Sequence[float] | None = None,
) -> dict:
    """Synthesize short English sentences from a small grammar (lower case, no punctuation).

    Args:
        folder: the (temporary) output folder.
        train_size: training utterances.
        valid_size: validation utterances.
        test_size: test utterances.
        seed: the seed of texts and voices.
        synthesizers: who speaks, a list from espeak, flite, festival, espeak_one_voice (``tformer.data.synthesis``).
        stretch: ``[low, high]`` duration factors (1: 160 words a minute; 1.5: slower), or None for
            each synthesizer's own range.
    Returns:
        The info record.
    """
    sizes = {"train": train_size, "valid": valid_size, "test": test_size}
    return prepare_speech(folder, texts_for_splits(simple_sentence, sizes, seed), seed, synthesizers=synthesizers,
                         stretch=stretch)


register_builtin(Builtin(
    "espeak_digits", "connected digit strings spoken by espeak-ng voices (+ flite, festival on request), 16 kHz",
    prepare_espeak_digits, dict(_DIGITS_SIZES), version=2,
))
register_builtin(Builtin(
    "espeak_sentences", "short English sentences spoken by espeak-ng voices (+ flite, festival on request), 16 kHz",
    prepare_espeak_sentences, dict(_SIZES),
))


def _listed(stretch: Sequence[float] | None) -> list[float] | None:
    """``stretch`` checked, as the list ``info.json`` records (a Hydra ListConfig becomes a list)."""
    checked = check_stretch(stretch)
    return None if checked is None else list(checked)


@DATASETS.register("espeak_digits")
@gives(source=AUDIO, target=TEXT)
def espeak_digits(
    split: str = "train", root: str | None = None, label_key: str = "text",
    train_size: int = 12000, valid_size: int = 200, test_size: int = 300, seed: int = 0,
    synthesizers: Sequence[str] = ("espeak",), stretch: Sequence[float] | None = None,
) -> ManifestDataset:
    """One split of the espeak digit strings, synthesized on first use (about 3 minutes).

    Args:
        split: "train", "valid" or "test".
        root: the data root (see ``tformer.data.builtin.data_root``).
        label_key: the manifest key used as target: "text" (words), "digits" or "n_digits".
        train_size: training utterances (another size is prepared into a folder of its own).
        valid_size: validation utterances.
        test_size: test utterances.
        seed: the seed of texts and voices.
        synthesizers: who speaks: ``[espeak]`` (the default), or more of espeak, flite, festival
            (flite and festival voices come from recordings of people; their own folder), or
            ``[espeak_one_voice]``: one voice in every split, for text-to-speech.
        stretch: ``[low, high]``: every synthesizer speaks at duration factors drawn from it (1:
            espeak's 160 words a minute, flite's and festival's own pace; 0.5-2.0); null: each one's
            own range (espeak 120-220 words a minute, flite and festival 0.8-1.3). A folder of its own.
    Returns:
        Items ``{"source": wav path, "target": the label_key value}``.
    """
    folder = prepared_folder("espeak_digits", root, train_size=train_size, valid_size=valid_size,
                             test_size=test_size, seed=seed, synthesizers=list(check_synthesizers(synthesizers)),
                             stretch=_listed(stretch))
    return ManifestDataset(folder / f"{check_split(split)}.jsonl", label_key=label_key)


@DATASETS.register("espeak_sentences")
@gives(source=AUDIO, target=TEXT)
def espeak_sentences(
    split: str = "train", root: str | None = None,
    train_size: int = 3000, valid_size: int = 200, test_size: int = 300, seed: int = 0,
    synthesizers: Sequence[str] = ("espeak",), stretch: Sequence[float] | None = None,
) -> ManifestDataset:
    """One split of the espeak simple sentences, synthesized on first use.

    Args:
        split: "train", "valid" or "test".
        root: the data root (see ``tformer.data.builtin.data_root``).
        train_size: training utterances (another size is prepared into a folder of its own).
        valid_size: validation utterances.
        test_size: test utterances.
        seed: the seed of texts and voices.
        synthesizers: who speaks: ``[espeak]`` (the default), or more of espeak, flite, festival
            (flite and festival voices come from recordings of people; their own folder), or
            ``[espeak_one_voice]``: one voice in every split, for text-to-speech.
        stretch: ``[low, high]``: every synthesizer speaks at duration factors drawn from it (1:
            espeak's 160 words a minute, flite's and festival's own pace; 0.5-2.0); null: each one's
            own range (espeak 120-220 words a minute, flite and festival 0.8-1.3). A folder of its own.
    Returns:
        Items ``{"source": wav path, "target": text}``.
    """
    folder = prepared_folder("espeak_sentences", root, train_size=train_size, valid_size=valid_size,
                             test_size=test_size, seed=seed, synthesizers=list(check_synthesizers(synthesizers)),
                             stretch=_listed(stretch))
    return ManifestDataset(folder / f"{check_split(split)}.jsonl")
