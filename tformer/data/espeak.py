"""Speech synthesized with espeak-ng: varied voices, variants, speeds and pitches, resampled to 16 kHz.

Train, valid and test use disjoint sets of voice variants, so valid and test measure speakers
never heard in training (``tformer.data.synthesis`` writes the splits).
"""

from __future__ import annotations

import random
import struct
import subprocess
import warnings
from typing import Any

import numpy as np
import torch

from tformer.data.errors import DataError, DataWarning
from tformer.data.synthesizers import SAMPLE_RATE, Synthesizer, require_program, save_wav

__all__ = ["SAMPLE_RATE", "VOICES", "VARIANTS", "synthesize", "available_variants", "Espeak", "EspeakOneVoice"]

VOICES = (
    "en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
VARIANTS = {
    "train": (
        "m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f5", "croak", "klatt", "klatt2", "klatt5",
        "Andy", "Annie", "aunty", "belinda", "boris", "david", "edward", "iven", "john", "linda", "max",
        "paul", "quincy", "rob", "steph", "travis", "zac", "Alicia", "Jacky", "Lee", "Michael", "Tweaky",
    ),
    "valid": ("m6", "klatt3", "steph2", "benjamin"),
    "test": ("m8", "f4", "klatt4", "edward2", "steph3", "grandma", "norbert"),
}
SPEEDS = (120, 220)  # words per minute
PACE = 160  # words per minute at duration factor 1 (a data set's ``stretch`` option)
PITCHES = (20, 80)  # espeak's 0-99 scale


def _espeak() -> str:
    return require_program("espeak-ng", "espeak-ng")


def available_variants() -> set[str]:
    """The voice variant names this espeak-ng installation knows (``espeak-ng --voices=variant``)."""
    listing = subprocess.run([_espeak(), "--voices=variant"], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1].removeprefix("!v/") for line in listing.splitlines()[1:] if line.strip()}


def _parse_wav(data: bytes) -> tuple[int, np.ndarray]:
    """espeak-ng's ``--stdout`` WAV: a 44-byte header (sizes unset) then 16-bit mono samples."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE" or data[36:40] != b"data":
        raise DataError("espeak-ng wrote an unexpected WAV header")
    rate = struct.unpack("<I", data[24:28])[0]
    usable = (len(data) - 44) // 2 * 2
    return rate, np.frombuffer(data[44 : 44 + usable], dtype="<i2")


def synthesize(text: str, path: str, voice: str = "en", variant: str = "m3", speed: int = 160, pitch: int = 50) -> float:
    """Speak ``text`` with espeak-ng and write it as a 16 kHz, 16-bit WAV file.

    Args:
        text: what to say.
        path: the WAV file to write.
        voice: an espeak-ng voice (language) name.
        variant: a voice variant (``espeak-ng --voices=variant``).
        speed: words per minute.
        pitch: 0-99.
    Returns:
        The duration in seconds.
    """
    command = [_espeak(), "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch), "--stdout", text]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise DataError(f"espeak-ng failed on {text!r}: {result.stderr.decode(errors='replace').strip()}")
    rate, samples = _parse_wav(result.stdout)
    return save_wav(torch.from_numpy(samples.astype(np.float32) / 32768.0), rate, path)


class Espeak(Synthesizer):
    """espeak-ng: the English voices ``VOICES`` with the variants ``VARIANTS``, disjoint per split,
    at random speeds and pitches. A variant this installation lacks is left out with a warning."""

    name = "espeak"
    voices = VARIANTS

    def installed_voices(self) -> set[str]:
        return available_variants()

    def usable_voices(self) -> dict[str, list[str]]:
        known = self.installed_voices()
        usable = {split: [v for v in names if v in known] for split, names in VARIANTS.items()}
        missing = sorted(v for names in VARIANTS.values() for v in names if v not in known)
        if missing:
            warnings.warn(f"espeak-ng lacks the voice variant(s) {', '.join(missing)}; using the others", DataWarning)
        for split, names in usable.items():
            if not names:
                raise DataError(f"espeak-ng has none of the {split} voice variants {VARIANTS[split]}")
        return usable

    def draw(self, rng: random.Random, voices: list[str], stretch: tuple[float, float] | None = None) -> dict[str, Any]:
        """A voice, one of the split's ``voices`` (variants), a speed and a pitch (the manifest's keys).

        The speed is drawn from ``SPEEDS``, or with ``stretch`` (duration factors) as ``PACE`` / factor.
        """
        voice, variant = rng.choice(VOICES), rng.choice(voices)
        speed = rng.randint(*SPEEDS) if stretch is None else round(PACE / rng.uniform(*stretch))
        return {"voice": voice, "variant": variant, "speed": speed, "pitch": rng.randint(*PITCHES)}

    def describe(self, usable: dict[str, list[str]]) -> dict[str, Any]:
        return {"voices": list(VOICES), "variants": usable}

    def run(self, jobs: list[dict[str, Any]]) -> list[float]:
        return [synthesize(job["text"], job["path"], **job["params"]) for job in jobs]


class EspeakOneVoice(Espeak):
    """One espeak-ng voice at one speed and pitch in every split (en + m3, 160 words a minute,
    pitch 50, as ``synthesize`` speaks by default): a single-speaker corpus for text-to-speech,
    as LJSpeech is. Trained on many voices, a TTS without a speaker input learns their average."""

    name = "espeak_one_voice"
    voices = {"train": ("m3",), "valid": ("m3",), "test": ("m3",)}
    SETTINGS = {"voice": "en", "variant": "m3", "speed": 160, "pitch": 50}

    def usable_voices(self) -> dict[str, list[str]]:
        if self.SETTINGS["variant"] not in self.installed_voices():
            raise DataError(f"espeak-ng lacks the voice variant {self.SETTINGS['variant']} that {self.name} speaks with")
        return {split: list(names) for split, names in self.voices.items()}

    def draw(self, rng: random.Random, voices: list[str], stretch: tuple[float, float] | None = None) -> dict[str, Any]:
        if stretch is not None:
            raise ValueError(f"stretch={list(stretch)} varies the pace, which {self.name} keeps at "
                             f"{self.SETTINGS['speed']} words a minute; leave stretch null with it")
        return dict(self.SETTINGS)

    def describe(self, usable: dict[str, list[str]]) -> dict[str, Any]:
        return {"one_voice": dict(self.SETTINGS)}
