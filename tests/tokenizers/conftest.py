"""Shared inputs for the tokenizer tests: a small German/English corpus and generated audio."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

CORPUS = [
    "Ich sehe das anders.",
    "I see it differently.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein!",
    "Grüße aus Köln; schön, oder?",
    "Die Bäume blühen im Frühling, und die Vögel singen.",
    "Hello, world: it's 3.14 - isn't it?",
    "Wir müssen heute noch 5 Äpfel und 2 Birnen kaufen.",
    "The quick brown fox jumps over the lazy dog.",
    "Öl, Übung, Ärger: große Wörter mit Umlauten.",
    "Where is the station? Wo ist der Bahnhof?",
    "„Anführungszeichen“ und (Klammern) sind auch Text.",
    "She said: \"Don't worry, be happy!\"",
]


def sine(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    """A two-tone test signal, float32, (N,)."""
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.5 * np.sin(2 * math.pi * freq * t) + 0.1 * np.sin(2 * math.pi * 1234.5 * t)).astype(np.float32)


@pytest.fixture
def corpus() -> list[str]:
    return list(CORPUS)


@pytest.fixture
def sine_wave():
    """Factory: ``sine(seconds, rate)`` as a float32 (N,) array."""
    return sine


@pytest.fixture
def wav_path(tmp_path: Path):
    """Factory: write a stereo sine WAV at ``rate`` and return its path."""

    def write(seconds: float, rate: int, name: str = "clip.wav", fmt: str | None = None) -> Path:
        wave = sine(seconds, rate)
        path = tmp_path / name
        soundfile.write(path, np.stack([wave, 0.5 * wave], axis=1), rate, format=fmt)
        return path

    return write


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
