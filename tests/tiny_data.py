"""Tiny data sets written by the tests: parallel text, labeled text, images, audio manifests."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

GERMAN = ["ich", "du", "sehe", "das", "haus", "hund", "katze", "gut", "rot", "blau"]
ENGLISH = ["i", "you", "see", "the", "house", "dog", "cat", "good", "red", "blue"]
WORDS = {"one": 330.0, "two": 550.0, "three": 770.0}


def parallel_text(folder: Path, n: int = 48, seed: int = 0) -> dict[str, Path]:
    """Word-for-word German/English sentences, train and test files."""
    rng = random.Random(seed)
    paths = {}
    for split, count in (("train", n), ("test", 8)):
        idx = [[rng.randrange(len(GERMAN)) for _ in range(rng.randint(2, 5))] for _ in range(count)]
        for lang, words in (("de", GERMAN), ("en", ENGLISH)):
            path = paths[f"{split}.{lang}"] = folder / f"{split}.{lang}"
            path.write_text("".join(" ".join(words[i] for i in row) + "\n" for row in idx), encoding="utf-8")
    return paths


def labeled_text(folder: Path, n: int = 40, seed: int = 0) -> dict[str, Path]:
    """TSV text<TAB>label: animal sentences vs colour sentences."""
    rng = random.Random(seed)
    paths = {}
    for split, count in (("train", n), ("test", 8)):
        rows = []
        for i in range(count):
            label = ["animal", "colour"][i % 2]
            words = ["hund", "katze"] if label == "animal" else ["rot", "blau"]
            rows.append(f"das {rng.choice(words)} ist gut\t{label}\n")
        paths[split] = folder / f"{split}.tsv"
        paths[split].write_text("".join(rows), encoding="utf-8")
    return paths


def image_folder(folder: Path, n_per_class: int = 6, seed: int = 0) -> Path:
    """class folders of PNGs of different sizes: dark squares vs bright squares."""
    rng = np.random.default_rng(seed)
    for label, level in (("dark", 40), ("bright", 210)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            size = int(rng.integers(20, 40))
            pixels = np.clip(rng.normal(level, 20, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / label / f"{i}.png")
    return folder


def tone(seconds: float, frequency: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * math.pi * frequency * t)).astype(np.float32)


def audio_manifest(folder: Path, n: int = 12, seed: int = 0, rate: int = 16000) -> dict[str, Path]:
    """JSON-lines manifests of tone 'words' (one, two, three), train and test; "text" holds the
    words, "label" the first word (a keyword, for classification)."""
    rng = random.Random(seed)
    paths = {}
    for split, count in (("train", n), ("test", 4)):
        lines = []
        for i in range(count):
            words = [rng.choice(list(WORDS)) for _ in range(rng.randint(1, 2))]
            wave = np.concatenate([tone(0.25, WORDS[w], rate) for w in words])
            path = folder / f"{split}_{i}.wav"
            soundfile.write(path, wave, rate)
            entry = {"audio_filepath": path.name, "duration": len(wave) / rate, "text": " ".join(words), "label": words[0]}
            lines.append(json.dumps(entry))
        paths[split] = folder / f"{split}.jsonl"
        paths[split].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
