"""Synthesize the splits of a built-in speech data set with one or more synthesizers, in parallel.

Each split is a NeMo JSON-lines manifest (``<split>.jsonl``) with WAV files in ``<split>/``
(16 kHz, 16-bit PCM). Each utterance goes to a synthesizer drawn from those with voices for its
split; the synthesizer draws the voice and its settings. With espeak alone the data are those
of tformer before other synthesizers existed, byte for byte (the choice of synthesizer draws
from a random source of its own).
"""

from __future__ import annotations

import json
import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import torch

from tformer.data.builtin import data_processes
from tformer.data.errors import DataError
from tformer.data.espeak import Espeak, EspeakOneVoice
from tformer.data.synthesizers import SAMPLE_RATE, Festival, Flite, Synthesizer, check_stretch

__all__ = ["SYNTHESIZERS", "prepare_speech", "check_synthesizers"]

CHUNK = 32  # utterances per task handed to a process
SYNTHESIZERS: dict[str, Synthesizer] = {part.name: part for part in (Espeak(), Flite(), Festival(), EspeakOneVoice())}


def check_synthesizers(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple if it is a non-empty list of distinct known synthesizers; ``ValueError`` otherwise."""
    if isinstance(names, str) or not names or len(set(names)) != len(names):
        raise ValueError(f"synthesizers={names!r} must be a non-empty list of distinct names from "
                         f"{', '.join(SYNTHESIZERS)}, e.g. [espeak, flite, festival]")
    unknown = [name for name in names if name not in SYNTHESIZERS]
    if unknown:
        raise ValueError(f"synthesizers: unknown {', '.join(map(repr, unknown))}; known: {', '.join(SYNTHESIZERS)}")
    return tuple(names)


def _jobs(folder: Path, split: str, texts: list, parts: list[Synthesizer], voices: dict, rngs: tuple,
          stretch: tuple[float, float] | None) -> list[dict]:
    rng, chooser = rngs
    (folder / split).mkdir()
    jobs = []
    for number, text in enumerate(texts):
        words, extra = (text[0], text[1:]) if isinstance(text, tuple) else (text, ())
        part = chooser.choice(parts)
        jobs.append({
            "text": words, "extra": extra, "audio_filepath": f"{split}/{number:06d}.wav",
            "path": str(folder / split / f"{number:06d}.wav"), "synthesizer": part.name,
            "params": part.draw(rng, voices[part.name][split], stretch),
        })
    return jobs


def _run_chunk(chunk: tuple[str, list[dict]]) -> list[float]:
    name, jobs = chunk
    return SYNTHESIZERS[name].run(jobs)


def _init_worker() -> None:
    torch.set_num_threads(1)


def _chunks(jobs: list[dict]) -> list[tuple[str, list[dict]]]:
    """The jobs in chunks of one synthesizer each, in job order within a synthesizer."""
    chunks = []
    for name in dict.fromkeys(job["synthesizer"] for job in jobs):
        mine = [job for job in jobs if job["synthesizer"] == name]
        chunks += [(name, mine[start : start + CHUNK]) for start in range(0, len(mine), CHUNK)]
    return chunks


def _synthesize(jobs: list[dict]) -> dict[str, float]:
    """Render every job with ``data_processes()`` processes; the duration of each job's file by its path."""
    chunks = _chunks(jobs)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(data_processes(), mp_context=context, initializer=_init_worker) as pool:
        results = list(pool.map(_run_chunk, chunks))
    return {job["path"]: d for (_, chunk), durations in zip(chunks, results) for job, d in zip(chunk, durations)}


def _write_manifest(path: Path, jobs: list[dict], durations: list[float], extra_keys: tuple[str, ...]) -> None:
    with path.open("w", encoding="utf-8") as manifest:
        for job, duration in zip(jobs, durations):
            entry = {"audio_filepath": job["audio_filepath"], "duration": round(duration, 3), "text": job["text"]}
            entry.update(zip(extra_keys, job["extra"]))
            entry.update(job["params"])
            manifest.write(json.dumps(entry) + "\n")


def _parts_per_split(names: tuple[str, ...], voices: dict, splits: list[str]) -> dict[str, list[Synthesizer]]:
    parts = {split: [SYNTHESIZERS[n] for n in names if voices[n].get(split)] for split in splits}
    for split, found in parts.items():
        if not found:
            raise DataError(f"synthesizers={list(names)} has no voice for the {split} split; "
                            "add espeak or flite, which have voices for every split")
    return parts


def prepare_speech(
    folder: Path, texts: dict[str, list], seed: int = 0, extra_keys: tuple[str, ...] = (),
    synthesizers: Sequence[str] = ("espeak",), stretch: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Synthesize every split's texts into ``folder`` with ``data_processes()`` processes, and write the manifests.

    Args:
        folder: the (temporary) output folder.
        texts: per split, the texts, or tuples ``(text, *extra values)`` stored under ``extra_keys``.
        seed: the seed choosing synthesizer, voice and settings per utterance.
        extra_keys: the manifest keys of the extra values.
        synthesizers: names from ``SYNTHESIZERS``; each utterance goes to one of them, uniformly.
        stretch: ``[low, high]`` duration factors every synthesizer draws from (slower speech above 1);
            None: each synthesizer's own range, the data as they were before the option existed.
    Returns:
        The info record: split counts, total hours, the voices per split of each synthesizer.
    """
    names = check_synthesizers(synthesizers)
    stretch = check_stretch(stretch)
    voices = {name: SYNTHESIZERS[name].usable_voices() for name in names}
    parts = _parts_per_split(names, voices, list(texts))
    rngs = (random.Random(seed), random.Random(f"synthesizer-{seed}"))
    jobs = {split: _jobs(folder, split, items, parts[split], voices, rngs, stretch) for split, items in texts.items()}
    seconds = _synthesize([job for split_jobs in jobs.values() for job in split_jobs])
    durations = {split: [seconds[job["path"]] for job in split_jobs] for split, split_jobs in jobs.items()}
    for split in jobs:
        _write_manifest(folder / f"{split}.jsonl", jobs[split], durations[split], extra_keys)
    info = {
        "splits": {split: len(split_jobs) for split, split_jobs in jobs.items()},
        "hours": {split: round(sum(d) / 3600, 3) for split, d in durations.items()},
        "sample_rate": SAMPLE_RATE,
    }
    for name in names:
        info.update(SYNTHESIZERS[name].describe(voices[name]))
    return info
