"""Speech synthesized with espeak-ng: varied voices, variants, speeds and pitches, resampled to 16 kHz.

Each split is a NeMo JSON-lines manifest (``<split>.jsonl``) with WAV files in ``<split>/``
(16 kHz, 16-bit PCM). Train, valid and test use disjoint sets of voice variants, so valid and
test measure speakers never heard in training.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import random
import shutil
import struct
import subprocess
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torchaudio

from tformer.data.errors import DataError, DataWarning

__all__ = ["SAMPLE_RATE", "VOICES", "VARIANTS", "synthesize", "prepare_speech", "available_variants"]

SAMPLE_RATE = 16000
PROCESSES = 2
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
PITCHES = (20, 80)  # espeak's 0-99 scale
_INSTALL = "apt-get install -y espeak-ng"


def _espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise DataError(f"espeak-ng not found; install it: {_INSTALL}")
    return path


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
    audio = torch.from_numpy(samples.astype(np.float32) / 32768.0)
    if rate != SAMPLE_RATE:
        audio = torchaudio.functional.resample(audio, rate, SAMPLE_RATE)
    buffer = io.BytesIO()  # one write: libsndfile writing straight to a file is ~10x slower
    soundfile.write(buffer, audio.clamp(-1, 1).numpy(), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    Path(path).write_bytes(buffer.getvalue())
    return len(audio) / SAMPLE_RATE


def _run_job(job: dict[str, Any]) -> float:
    return synthesize(job["text"], job["path"], job["voice"], job["variant"], job["speed"], job["pitch"])


def _init_worker() -> None:
    torch.set_num_threads(1)


def _jobs(folder: Path, split: str, texts: list, variants: list[str], rng: random.Random) -> list[dict]:
    (folder / split).mkdir()
    jobs = []
    for number, text in enumerate(texts):
        words, extra = (text[0], text[1:]) if isinstance(text, tuple) else (text, ())
        jobs.append({
            "text": words, "extra": extra, "audio_filepath": f"{split}/{number:06d}.wav",
            "path": str(folder / split / f"{number:06d}.wav"), "voice": rng.choice(VOICES),
            "variant": rng.choice(variants), "speed": rng.randint(*SPEEDS), "pitch": rng.randint(*PITCHES),
        })
    return jobs


def _write_manifest(path: Path, jobs: list[dict], durations: list[float], extra_keys: tuple[str, ...]) -> None:
    with path.open("w", encoding="utf-8") as manifest:
        for job, duration in zip(jobs, durations):
            entry = {"audio_filepath": job["audio_filepath"], "duration": round(duration, 3), "text": job["text"]}
            entry.update(zip(extra_keys, job["extra"]))
            entry.update({k: job[k] for k in ("voice", "variant", "speed", "pitch")})
            manifest.write(json.dumps(entry) + "\n")


def _usable_variants() -> dict[str, list[str]]:
    known = available_variants()
    usable = {split: [v for v in names if v in known] for split, names in VARIANTS.items()}
    missing = sorted(v for names in VARIANTS.values() for v in names if v not in known)
    if missing:
        warnings.warn(f"espeak-ng lacks the voice variant(s) {', '.join(missing)}; using the others", DataWarning)
    for split, names in usable.items():
        if not names:
            raise DataError(f"espeak-ng has none of the {split} voice variants {VARIANTS[split]}")
    return usable


def prepare_speech(
    folder: Path, texts: dict[str, list], seed: int = 0, extra_keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Synthesize every split's texts into ``folder`` with two processes, and write the manifests.

    Args:
        folder: the (temporary) output folder.
        texts: per split, the texts, or tuples ``(text, *extra values)`` stored under ``extra_keys``.
        seed: the seed choosing voice, variant, speed and pitch per utterance.
        extra_keys: the manifest keys of the extra values.
    Returns:
        The info record: split counts, total hours, voices and variants per split.
    """
    variants = _usable_variants()
    rng = random.Random(seed)
    jobs = {split: _jobs(folder, split, items, variants[split], rng) for split, items in texts.items()}
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(PROCESSES, mp_context=context, initializer=_init_worker) as pool:
        durations = {split: list(pool.map(_run_job, split_jobs, chunksize=32)) for split, split_jobs in jobs.items()}
    for split in jobs:
        _write_manifest(folder / f"{split}.jsonl", jobs[split], durations[split], extra_keys)
    return {
        "splits": {split: len(split_jobs) for split, split_jobs in jobs.items()},
        "hours": {split: round(sum(d) / 3600, 3) for split, d in durations.items()},
        "sample_rate": SAMPLE_RATE, "voices": list(VOICES), "variants": variants,
    }

