"""Long recordings in pieces: read a file block by block and cut it at its quietest moments.

Memory stays bounded by the chunk length, whatever the length of the file: at most one chunk plus
one block of samples is held at a time (``soundfile`` reads the blocks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np
import soundfile
import torch
from torch import Tensor

__all__ = ["AudioChunk", "audio_chunks", "quietest_cut", "SEARCH_FRACTION", "PAUSE_SECONDS"]

SEARCH_FRACTION = 1 / 3  # a chunk is cut in its last third: chunks are 2/3 to 1 x chunk_seconds long
PAUSE_SECONDS = 0.1  # energy window: long enough to prefer a pause between words to a stop consonant
_HOP_SECONDS = 0.01


class AudioChunk(NamedTuple):
    """One piece of a recording: mono samples at ``rate`` and where it starts in the recording."""

    wave: Tensor
    rate: int
    start_seconds: float



def quietest_cut(wave: np.ndarray, rate: int, search_from: int) -> int:
    """The sample at the centre of the quietest ``PAUSE_SECONDS`` window of ``wave[search_from:]``
    (of equally quiet windows, the middle of the longest run of them).

    Args:
        wave: (N,) mono samples.
        rate: sample rate.
        search_from: first sample the cut may fall at.
    Returns:
        The cut: an index in ``(search_from, N]``.
    """
    window, hop = max(1, round(PAUSE_SECONDS * rate)), max(1, round(_HOP_SECONDS * rate))
    region = torch.from_numpy(np.ascontiguousarray(wave[search_from:], dtype=np.float32))
    if region.numel() < window:
        return len(wave)
    energy = region.unfold(0, window, hop).pow(2).mean(-1)  # (windows,) mean power
    quiet = energy <= energy.min() * (1 + 1e-3) + 1e-12  # ties: digital silence
    first, last = _longest_run(quiet)
    middle = (first + last) // 2  # the middle of the longest quietest stretch, away from both words
    return search_from + middle * hop + window // 2


def _longest_run(flags: Tensor) -> tuple[int, int]:
    """First and last index of the longest run of True in (N,) ``flags`` (the first such run)."""
    edges = torch.diff(flags.int(), prepend=torch.zeros(1, dtype=torch.int), append=torch.zeros(1, dtype=torch.int))
    starts, ends = torch.nonzero(edges == 1).flatten(), torch.nonzero(edges == -1).flatten()  # ends exclusive
    longest = int(torch.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest]) - 1


def _blocks(raw: Any, default_rate: int, block_samples: int) -> tuple[Iterator[np.ndarray], int]:
    """(mono float32 blocks, sample rate) of a path, a (waveform, rate) pair or a waveform."""
    if isinstance(raw, (str, Path)):
        return _file_blocks(str(raw), block_samples)
    wave, rate = raw if isinstance(raw, tuple) else (raw, default_rate)
    wave = np.asarray(wave.detach().cpu() if isinstance(wave, Tensor) else wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=0)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"audio: expected a non-empty 1-D or (channels, samples) waveform, got {wave.shape}")
    return (wave[i : i + block_samples] for i in range(0, wave.size, block_samples)), int(rate)


def _file_blocks(path: str, block_samples: int) -> tuple[Iterator[np.ndarray], int]:
    try:
        info = soundfile.info(path)
    except (soundfile.LibsndfileError, RuntimeError, OSError, TypeError) as error:
        raise ValueError(f"{path}: cannot read audio ({error})") from error
    if info.frames == 0:
        raise ValueError(f"{path}: audio file is empty (0 samples)")

    def blocks() -> Iterator[np.ndarray]:
        try:
            for block in soundfile.blocks(path, blocksize=block_samples, dtype="float32", always_2d=True):
                yield block.mean(axis=1)  # (n, C) -> (n,)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise ValueError(f"{path}: cannot read audio ({error})") from error

    return blocks(), info.samplerate


def audio_chunks(raw: Any, chunk_seconds: float, default_rate: int) -> Iterator[AudioChunk]:
    """Cut a recording into chunks of at most ``chunk_seconds``, each ending at the quietest
    moment of its last third (``quietest_cut``), reading a file block by block.

    Args:
        raw: a path, a ``(waveform, sample_rate)`` pair or a waveform at ``default_rate``.
        chunk_seconds: the longest chunk (a hard limit).
        default_rate: the rate of a bare waveform.
    Returns:
        The chunks in order; together they are the whole recording.
    """
    if not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds={chunk_seconds}: give a positive number of seconds (or null for no chunks)")
    blocks, rate = _blocks(raw, default_rate, block_samples=max(1, round(chunk_seconds * default_rate / 2)))
    longest = max(1, round(chunk_seconds * rate))
    search_from = max(0, round(longest * (1 - SEARCH_FRACTION)))
    pending, held, start = [], 0, 0  # blocks not yet cut, their samples, where they start
    for block in blocks:
        pending.append(block)
        held += block.size
        while held >= longest:
            buffer = np.concatenate(pending)
            cut = quietest_cut(buffer[:longest], rate, search_from)
            yield AudioChunk(torch.from_numpy(buffer[:cut].copy()), rate, start / rate)
            pending, held, start = [buffer[cut:]], buffer.size - cut, start + cut
    if held:
        yield AudioChunk(torch.from_numpy(np.concatenate(pending)), rate, start / rate)
