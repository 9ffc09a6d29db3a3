"""Long recordings for the tests: espeak-ng clips joined by silences, and a tiny ASR model.

``python -m tests.tasks.long_audio PATH MODE`` predicts one recording in a fresh process and prints
its peak memory (``VmHWM``) as JSON; MODE is ``chunked`` (``predict`` with chunks) or
``whole`` (the recording's features at once, as ``prepare`` makes them).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile
import torch

from tformer.core import EncoderDecoder
from tformer.data.espeak import SAMPLE_RATE, synthesize
from tformer.tasks import CrossEntropy, Greedy, TranslationTask
from tformer.tokenizers import AudioFbankTokenizer, TextCharTokenizer

TEXTS = ("one two three", "four five six seven", "eight nine", "zero one four", "seven seven two", "six")
GAP_SECONDS = 0.6  # silence between clips
CHUNK_SECONDS = 6.0  # its last third (2 s) is longer than any clip (<= 1.8 s): it always holds a gap
BATCH = 4  # chunks decoded at a time in the memory probe


class Layout(NamedTuple):
    """Where the sound of each clip of a long recording lies (first and end sample above 1e-3)."""

    starts: list[int]
    ends: list[int]
    clips: list[int]  # which of the synthesized clips each one is


def clips(folder: Path) -> list[np.ndarray]:
    """The ``TEXTS`` spoken by espeak-ng: float32 waveforms at 16 kHz (also left in ``folder``)."""
    waves = []
    for i, text in enumerate(TEXTS):
        synthesize(text, str(folder / f"clip{i}.wav"), variant="m3", speed=170)
        waves.append(soundfile.read(str(folder / f"clip{i}.wav"), dtype="float32")[0])
    return waves


def write_long(path: Path, waves: list[np.ndarray], seconds: float) -> Layout:
    """Write clips in turn, each followed by ``GAP_SECONDS`` of silence, until ``seconds`` of audio;
    written clip by clip, so this process holds no more than a clip."""
    gap = np.zeros(round(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    layout, at = Layout([], [], []), 0
    with soundfile.SoundFile(str(path), "w", SAMPLE_RATE, 1, "PCM_16") as out:
        while at < seconds * SAMPLE_RATE:
            k = len(layout.clips) % len(waves)
            out.write(waves[k])
            out.write(gap)
            sound = np.flatnonzero(np.abs(waves[k]) > 1e-3)
            layout.starts.append(at + int(sound[0]))
            layout.ends.append(at + int(sound[-1]) + 1)
            layout.clips.append(k)
            at += waves[k].size + gap.size
    return layout


def tiny_asr(seed: int = 0) -> TranslationTask:
    """A randomly initialized audio -> characters model, greedy, outputs no longer than the input."""
    torch.manual_seed(seed)
    fields = {"source": AudioFbankTokenizer(d_model=16, n_mels=20, conv_channels=4, dropout=0.0),
              "target": TextCharTokenizer(d_model=16, alphabet="abcdefghijklmnopqrstuvwxyz ", dropout=0.0)}
    core = EncoderDecoder(16, 2, 1, 1, 32, dropout=0.0)
    return TranslationTask(fields, core, {"cross_entropy": CrossEntropy()}, Greedy(), metrics=["wer"],
                           max_len_offset=0).eval()


def write_until_limit(task: TranslationTask) -> None:
    """Never predict a special token: the untrained decoder writes letters up to its length limit
    (the source's encoder frames), so its texts show what each chunk held."""
    project = task.target.project
    only_letters = torch.zeros(task.target.vocab_size)
    only_letters[: task.target.eos_id + 1] = -1e9  # <pad>, <bos>, <eos>
    only_letters[task.target.unk_id] = -1e9
    task.target.project = lambda hidden: project(hidden) + only_letters


def _stop_at_once(task: TranslationTask) -> None:
    """Make every decoding step predict EOS: the probe measures reading and encoding, not decoding."""
    eos, size = task.target.eos_id, task.target.vocab_size
    task.target.project = lambda hidden: torch.nn.functional.one_hot(
        torch.full(hidden.shape[:-1], eos), size).to(hidden.dtype)


def main(path: str, mode: str) -> None:
    torch.set_num_threads(1)
    task = tiny_asr()
    if mode == "chunked":
        _stop_at_once(task)
        task.predict_batch_size = BATCH
        task.predict([path], chunk_seconds=CHUNK_SECONDS)
    elif mode == "whole":
        task.source.prepare(path)
    else:
        raise SystemExit(f"mode {mode!r}: chunked or whole")
    print(json.dumps({"max_rss_mb": peak_mb()}))


def peak_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM``, which starts afresh with the program.
    ``ru_maxrss`` does not: Linux keeps it across ``execve``, so a probe started from a large
    pytest process would report the parent's peak (getrusage(2))."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


if __name__ == "__main__":
    main(*sys.argv[1:])
