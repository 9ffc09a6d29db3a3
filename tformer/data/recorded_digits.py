"""The ``recorded_digits`` data set: digit strings in the voice of a person, for models that trained
on synthetic voices.

Allison Smith recorded each digit word for Asterisk's US English prompts (Debian
``asterisk-core-sounds-en-wav``: ``digits/0.wav`` "zero" to ``digits/9.wav`` "nine", 8 kHz 16-bit
PCM, CC-BY-SA 3.0). Each test item joins her recordings of the string's digits, each trimmed to its
speech, with pauses of random length between them, and is written at 16 kHz like every built-in
speech set (the band stays 8 kHz: telephone speech). It is a test split alone: real speech that no
recipe trains on. Words are read one at a time, so there is no coarticulation across them, and each
digit is the same recording wherever it occurs; a person reading strings aloud varies more.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import soundfile
import torch

from tformer.data.audio import ManifestDataset
from tformer.data.builtin import Builtin, prepared_folder, register_builtin
from tformer.data.errors import DataError
from tformer.data.speech_text import DIGIT_WORDS, digit_string
from tformer.data.synthesizers import save_wav
from tformer.kinds import AUDIO, TEXT, gives
from tformer.registry import DATASETS

__all__ = ["SOUNDS_DIR", "prepare_recorded_digits", "recorded_digits", "trim_silence"]

SOUNDS_DIR = "/usr/share/asterisk/sounds/en_US_f_Allison"
_INSTALL = "apt-get install -y asterisk-core-sounds-en-wav"
TRIM_DB = -45.0    # frames quieter than this below the clip's loudest frame are silence
FRAME_S = 0.01     # the energy frame of the trimming
MARGIN_S = 0.04    # kept on each side of the speech, for soft onsets such as the /s/ of "six"
PAUSE_S = (0.05, 0.3)  # the pause between two digits, uniform
EDGE_S = 0.2       # silence before the first digit and after the last


def trim_silence(audio: np.ndarray, rate: int, threshold_db: float = TRIM_DB, margin_s: float = MARGIN_S) -> np.ndarray:
    """``audio`` cut to its first and last frame within ``threshold_db`` of its loudest, plus a margin.

    Args:
        audio: (N,) samples.
        rate: the sample rate.
        threshold_db: the level, relative to the loudest 10 ms frame, below which a frame is silence.
        margin_s: seconds kept on each side.
    Returns:
        The trimmed samples (all of ``audio`` if no frame is loud enough to trim by).
    """
    hop = max(1, int(rate * FRAME_S))
    frames = len(audio) // hop
    if frames == 0:
        return audio
    energy = np.sqrt((audio[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1)) + 1e-12
    loud = np.flatnonzero(20 * np.log10(energy / energy.max()) > threshold_db)
    margin = int(rate * margin_s)
    return audio[max(0, loud[0] * hop - margin) : min(len(audio), (loud[-1] + 1) * hop + margin)]


def _read_digits(sounds_dir: Path) -> tuple[list[np.ndarray], int]:
    """The trimmed recording of each digit 0-9 and their sample rate."""
    paths = [sounds_dir / "digits" / f"{digit}.wav" for digit in range(10)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise DataError(f"recorded_digits: {missing[0]} not found ({len(missing)} of the ten digit recordings "
                        f"missing); install Asterisk's US English prompts: {_INSTALL}")
    clips, rates = [], set()
    for path in paths:
        try:
            audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except RuntimeError as error:  # libsndfile cannot decode it
            raise DataError(f"recorded_digits: {path} cannot be decoded ({error}); reinstall it: {_INSTALL}") from None
        clips.append(trim_silence(audio.mean(axis=1), rate))
        rates.add(rate)
    if len(rates) != 1:
        raise DataError(f"recorded_digits: the digit recordings under {sounds_dir}/digits have different "
                        f"sample rates {sorted(rates)}; expected one")
    return clips, rates.pop()


def _join(clips: list[np.ndarray], digits: str, rate: int, rng: random.Random) -> np.ndarray:
    edge = np.zeros(int(rate * EDGE_S), dtype=np.float32)
    parts = [edge]
    for number, digit in enumerate(digits):
        if number:
            parts.append(np.zeros(int(rate * rng.uniform(*PAUSE_S)), dtype=np.float32))
        parts.append(clips[int(digit)])
    return np.concatenate(parts + [edge])


def prepare_recorded_digits(folder: Path, test_size: int = 300, seed: int = 0, sounds_dir: str = SOUNDS_DIR) -> dict:
    """Join a person's digit recordings into ``test_size`` strings of 1-7 digits: ``test.jsonl`` and ``test/``.

    Manifest entries carry ``text`` ("three one four"), ``digits`` ("314"), ``n_digits`` (3) and
    ``speaker``, like ``espeak_digits``'s.

    Args:
        folder: the (temporary) output folder.
        test_size: the number of strings.
        seed: the seed of the strings and the pauses.
        sounds_dir: the folder of the prompts (its ``digits/0.wav`` ... ``digits/9.wav`` are read).
    Returns:
        The info record.
    """
    clips, rate = _read_digits(Path(sounds_dir))
    rng = random.Random(f"recorded-digits-{seed}")
    (folder / "test").mkdir()
    seconds = 0.0
    with (folder / "test.jsonl").open("w", encoding="utf-8") as manifest:
        for number in range(test_size):
            words, digits, count = digit_string(rng)
            path = f"test/{number:06d}.wav"
            duration = save_wav(torch.from_numpy(_join(clips, digits, rate, rng)), rate, folder / path)
            seconds += duration
            entry = {"audio_filepath": path, "duration": round(duration, 3), "text": words, "digits": digits,
                     "n_digits": count, "speaker": "allison"}
            manifest.write(json.dumps(entry) + "\n")
    return {"splits": {"test": test_size}, "hours": {"test": round(seconds / 3600, 3)}, "source_rate": rate,
            "words": dict(zip(DIGIT_WORDS, (f"digits/{d}.wav" for d in range(10)))),
            "licence": "CC-BY-SA-3.0, recorded by Allison Smith (/usr/share/doc/asterisk-core-sounds-en-wav/copyright)"}


register_builtin(Builtin(
    "recorded_digits", "digit strings in a person's voice: Allison Smith's recordings of the ten digits "
    "(Asterisk's US English prompts, asterisk-core-sounds-en-wav, 8 kHz band), joined with pauses; test only",
    prepare_recorded_digits, {"test_size": 300, "seed": 0, "sounds_dir": SOUNDS_DIR},
))


@DATASETS.register("recorded_digits")
@gives(source=AUDIO, target=TEXT)
def recorded_digits(
    split: str = "test", root: str | None = None, label_key: str = "text",
    test_size: int = 300, seed: int = 0, sounds_dir: str = SOUNDS_DIR,
) -> ManifestDataset:
    """The test split of digit strings read by a person, prepared on first use (a few seconds).

    Args:
        split: "test", the only split: the set is for models trained on other voices.
        root: the data root (see ``tformer.data.builtin.data_root``).
        label_key: the manifest key used as target: "text" (words), "digits" or "n_digits".
        test_size: the number of strings.
        seed: the seed of the strings and the pauses.
        sounds_dir: the folder of Asterisk's US English prompts (another copy prepares a folder of its own).
    Returns:
        Items ``{"source": wav path, "target": the label_key value}``.
    """
    if split != "test":
        raise DataError(f"recorded_digits: split={split!r}: the set has only a 'test' split "
                        "(train on espeak_digits; this measures how a model hears a person)")
    folder = prepared_folder("recorded_digits", root, test_size=test_size, seed=seed, sounds_dir=sounds_dir)
    return ManifestDataset(folder / "test.jsonl", label_key=label_key)
