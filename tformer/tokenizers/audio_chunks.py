"""Long recordings in pieces: read a file block by block and cut it at its pauses.

A chunk ends at the first pause (``PAUSE_SECONDS`` at least ``QUIET_DB`` below the loudest moment
around it), keeping ``PAUSE_MARGIN_SECONDS`` of it: models trained on utterances then hear
utterances, with no more silence around them than utterances have. Speech that runs on to
``chunk_seconds`` without one is cut at its quietest moment in the chunk's last third.
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

__all__ = ["AudioChunk", "audio_chunks", "first_pause", "quietest_cut", "PAUSE_SECONDS", "PAUSE_MARGIN_SECONDS", "QUIET_DB"]

PAUSE_SECONDS = 0.3  # silence that ends a chunk: longer than the gaps between words
QUIET_DB = 35.0  # a pause is this far below the loudest 25 ms of the chunk
SEARCH_FRACTION = 1 / 3  # without a pause, a chunk is cut in its last third
PAUSE_MARGIN_SECONDS = 0.1  # of a pause, a chunk keeps this much on each side; the rest is left out
CUT_WINDOW_SECONDS = 0.1  # without a pause: the quietest stretch this long, rather than a stop consonant
_WINDOW_SECONDS, _HOP_SECONDS = 0.025, 0.01


class AudioChunk(NamedTuple):
    """One piece of a recording: mono samples at ``rate`` and where it starts in the recording."""

    wave: Tensor
    rate: int
    start_seconds: float


def quietest_cut(wave: np.ndarray, rate: int, search_from: int) -> int:
    """The sample at the centre of the quietest ``CUT_WINDOW_SECONDS`` window of ``wave[search_from:]``
    (of equally quiet windows, the middle of the longest run of them).

    Args:
        wave: (N,) mono samples.
        rate: sample rate.
        search_from: first sample the cut may fall at.
    Returns:
        The cut: an index in ``(search_from, N]``.
    """
    window, hop = max(1, round(CUT_WINDOW_SECONDS * rate)), max(1, round(_HOP_SECONDS * rate))
    region = torch.from_numpy(np.ascontiguousarray(wave[search_from:], dtype=np.float32))
    if region.numel() < window:
        return len(wave)
    energy = region.unfold(0, window, hop).pow(2).mean(-1)  # (windows,) mean power
    quiet = energy <= energy.min() * (1 + 1e-3) + 1e-12  # ties: digital silence
    first, last = _longest_run(quiet)
    middle = (first + last) // 2  # the middle of the longest quietest stretch, away from both words
    return search_from + middle * hop + window // 2


def first_pause(wave: np.ndarray, rate: int) -> tuple[int, int] | None:
    """The first pause in ``wave`` with sound before and after it, or None.

    A pause is ``PAUSE_SECONDS`` or more of 25 ms windows ``QUIET_DB`` below the loudest window.

    Args:
        wave: (N,) mono samples.
        rate: sample rate.
    Returns:
        Its first and last sample, less ``PAUSE_MARGIN_SECONDS`` on each side (the silence a
        chunk keeps around its speech), or None if ``wave`` holds no such pause.
    """
    window, hop = max(1, round(_WINDOW_SECONDS * rate)), max(1, round(_HOP_SECONDS * rate))
    if wave.size < window:
        return None
    power = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).unfold(0, window, hop).pow(2).mean(-1)
    quiet = power <= power.max() * 10 ** (-QUIET_DB / 10)
    shortest = round((PAUSE_SECONDS - _WINDOW_SECONDS) / _HOP_SECONDS) + 1  # windows spanning a pause
    for start, end in zip(*_runs(quiet)):
        if start > 0 and end < quiet.numel() and end - start >= shortest:  # sound on both sides
            margin = round(PAUSE_MARGIN_SECONDS * rate)
            first, last = start * hop + margin, (end - 1) * hop + window - margin
            return (first, last) if first < last else ((first + last) // 2,) * 2
    return None


def _runs(flags: Tensor) -> tuple[list[int], list[int]]:
    """Starts and (exclusive) ends of the runs of True in (N,) ``flags``."""
    edges = torch.diff(flags.int(), prepend=torch.zeros(1, dtype=torch.int), append=torch.zeros(1, dtype=torch.int))
    return torch.nonzero(edges == 1).flatten().tolist(), torch.nonzero(edges == -1).flatten().tolist()


def _longest_run(flags: Tensor) -> tuple[int, int]:
    """First and last index of the longest run of True in (N,) ``flags`` (the first such run)."""
    starts, ends = _runs(flags)
    longest = max(range(len(starts)), key=lambda i: ends[i] - starts[i])
    return starts[longest], ends[longest] - 1


def _blocks(raw: Any, default_rate: int, block_samples: int) -> tuple[Iterator[np.ndarray], int, int]:
    """(mono float32 blocks, sample rate, samples in all) of a path, a (waveform, rate) pair or a waveform."""
    if isinstance(raw, (str, Path)):
        return _file_blocks(str(raw), block_samples)
    wave, rate = raw if isinstance(raw, tuple) else (raw, default_rate)
    wave = np.asarray(wave.detach().cpu() if isinstance(wave, Tensor) else wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=0)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"audio: expected a non-empty 1-D or (channels, samples) waveform, got {wave.shape}")
    return (wave[i : i + block_samples] for i in range(0, wave.size, block_samples)), int(rate), wave.size


def _file_blocks(path: str, block_samples: int) -> tuple[Iterator[np.ndarray], int, int]:
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

    return blocks(), info.samplerate, info.frames


def audio_chunks(raw: Any, chunk_seconds: float, default_rate: int) -> Iterator[AudioChunk]:
    """Cut a recording longer than ``chunk_seconds`` at its pauses (``first_pause``) into chunks
    of at most ``chunk_seconds``, reading a file block by block; a chunk without a pause ends at
    ``quietest_cut``. A shorter recording is one chunk.

    Args:
        raw: a path, a ``(waveform, sample_rate)`` pair or a waveform at ``default_rate``.
        chunk_seconds: the longest chunk (a hard limit).
        default_rate: the rate of a bare waveform.
    Returns:
        The chunks in order: the whole recording but the middle of its pauses.
    """
    if not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds={chunk_seconds}: give a positive number of seconds (or null for no chunks)")
    blocks, rate, total = _blocks(raw, default_rate, block_samples=max(1, round(chunk_seconds * default_rate / 2)))
    longest = max(1, round(chunk_seconds * rate))
    if total <= longest:  # short enough: whole, as without chunks
        yield AudioChunk(torch.from_numpy(np.concatenate(list(blocks))), rate, 0.0)
        return
    search_from = max(0, round(longest * (1 - SEARCH_FRACTION)))
    pending, start = np.zeros(0, dtype=np.float32), 0  # samples not yet cut, where they start
    for block in blocks:
        pending = np.concatenate([pending, block])
        while pending.size >= longest:
            end, resume = first_pause(pending[:longest], rate) or (quietest_cut(pending[:longest], rate, search_from),) * 2
            yield AudioChunk(torch.from_numpy(pending[:end].copy()), rate, start / rate)
            pending, start = pending[resume:], start + resume
    while pending.size and (pause := first_pause(pending, rate)) is not None:
        yield AudioChunk(torch.from_numpy(pending[: pause[0]].copy()), rate, start / rate)
        pending, start = pending[pause[1] :], start + pause[1]
    if pending.size:
        yield AudioChunk(torch.from_numpy(pending.copy()), rate, start / rate)
