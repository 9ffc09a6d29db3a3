"""Long recordings: WER of chunked transcription against per-clip decoding, and peak memory by length.

    python -m benchmarks.long_audio CKPT [--minutes 2 10] [--chunk-seconds 10 20] [--wer-minutes 5]

Builds recordings from the espeak_digits test split (its clips in turn, 0.5 s of silence after
each, written clip by clip), then
- WER: decodes the clips one by one (``chunk_seconds=None``), the same clips with the silence a
  chunk keeps around its speech added, and the long recording in chunks, each scored against the
  clips' texts in order; the margin is the difference;
- memory: predicts each recording in a fresh process and reads its peak RSS (``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile
import torch
from torchmetrics.functional.text import word_error_rate

import tformer
from benchmarks.speed_memory import status_kib
from tformer.data.builtin import data_root

GAP_SECONDS = 0.5
PADDING_SECONDS = 0.1  # what a chunk keeps of a pause (tformer.tokenizers.audio_chunks.PAUSE_MARGIN_SECONDS)
RATE = 16000


def test_clips(root: Path | None = None) -> list[tuple[Path, str]]:
    """(WAV path, text) of each espeak_digits test clip (``tformer-data espeak_digits`` makes them)."""
    folder = data_root(root) / "espeak_digits"
    manifest = folder / "test.jsonl"
    if not manifest.is_file():
        raise SystemExit(f"{manifest} is missing: run tformer-data espeak_digits first")
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return [(folder / row["audio_filepath"], row["text"]) for row in rows]


def write_recording(path: Path, clips: list[tuple[Path, str]], minutes: float) -> list[int]:
    """Write the clips in turn, each followed by silence, until ``minutes``; the clip indices used."""
    used, samples = [], 0
    gap = torch.zeros(round(GAP_SECONDS * RATE)).numpy()
    with soundfile.SoundFile(str(path), "w", RATE, 1, "PCM_16") as out:
        while samples < minutes * 60 * RATE:
            index = len(used) % len(clips)
            wave, rate = soundfile.read(str(clips[index][0]), dtype="float32")
            if rate != RATE:
                raise SystemExit(f"{clips[index][0]}: {rate} Hz; the benchmark writes {RATE} Hz recordings")
            out.write(wave)
            out.write(gap)
            used.append(index)
            samples += len(wave) + len(gap)
    return used


def wer_rows(task, clips, used: list[int], recording: Path, chunk_seconds: list[float]) -> list[dict]:
    """WER of per-clip decoding and of chunked decoding at each chunk length, on one recording."""
    reference = " ".join(clips[i][1] for i in used)
    start = time.perf_counter()
    per_clip = task.predict([str(clips[i][0]) for i in used], chunk_seconds=None)
    rows = [{"decoding": "per clip", "wer": float(word_error_rate(" ".join(per_clip), reference)),
             "seconds": time.perf_counter() - start}]
    start = time.perf_counter()
    silence = torch.zeros(round(PADDING_SECONDS * RATE))
    padded = [torch.cat([silence, torch.from_numpy(soundfile.read(str(clips[i][0]), dtype="float32")[0]), silence])
              for i in used]
    per_padded = task.predict(padded, chunk_seconds=None)
    rows.append({"decoding": f"per clip, {PADDING_SECONDS:g} s of silence added before and after",
                 "wer": float(word_error_rate(" ".join(per_padded), reference)), "seconds": time.perf_counter() - start})
    for seconds in chunk_seconds:
        start = time.perf_counter()
        text = task.predict([str(recording)], chunk_seconds=seconds)[0]
        rows.append({"decoding": f"chunks of <= {seconds:g} s", "wer": float(word_error_rate(text, reference)),
                     "seconds": time.perf_counter() - start})
    return rows


def peak_memory_mb(ckpt: Path, recording: Path, chunk_seconds: float) -> float:
    """Peak RSS of a fresh process that loads ``ckpt`` and predicts ``recording`` in chunks."""
    command = [sys.executable, "-m", "benchmarks.long_audio", str(ckpt), "--probe", str(recording),
               "--chunk-seconds", str(chunk_seconds)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])["max_rss_mb"]


def _probe(ckpt: Path, recording: Path, chunk_seconds: float) -> None:
    torch.set_num_threads(1)
    tformer.load(ckpt).predict([str(recording)], chunk_seconds=chunk_seconds)
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so the probe would report this
    # benchmark's own peak (a loaded model, the WER decoding) instead of its own
    print(json.dumps({"max_rss_mb": status_kib("VmHWM") / 1024}))


def run(ckpt: Path, minutes: list[float], chunk_seconds: list[float], wer_minutes: float,
        data: Path | None = None, folder: Path | None = None) -> dict:
    """The benchmark's results: ``{"wer": [...], "memory": [...]}`` (see the module docstring)."""
    torch.set_num_threads(1)
    clips = test_clips(data)
    with tempfile.TemporaryDirectory() as scratch:
        folder = folder or Path(scratch)
        task = tformer.load(ckpt)
        recording = folder / f"wer_{wer_minutes:g}min.wav"
        used = write_recording(recording, clips, wer_minutes)
        results = {"wer": wer_rows(task, clips, used, recording, chunk_seconds), "memory": []}
        for length in minutes:
            path = folder / f"{length:g}min.wav"
            write_recording(path, clips, length)
            results["memory"].append({"minutes": length, "max_rss_mb": peak_memory_mb(ckpt, path, chunk_seconds[-1])})
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", type=Path, help="an ASR checkpoint (e.g. from tformer-train experiment=asr_digits)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[2, 10], help="recording lengths for memory")
    parser.add_argument("--chunk-seconds", type=float, nargs="+", default=[20.0], help="chunk lengths for WER")
    parser.add_argument("--wer-minutes", type=float, default=5.0, help="length of the recording scored for WER")
    parser.add_argument("--data", type=Path, default=None, help="data root (default $TFORMER_DATA or ~/.cache/tformer/data)")
    parser.add_argument("--probe", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe is not None:
        return _probe(args.ckpt, args.probe, args.chunk_seconds[-1])
    results = run(args.ckpt, args.minutes, args.chunk_seconds, args.wer_minutes, args.data)
    print(f"| decoding ({args.wer_minutes:g} min) | WER | seconds |\n|---|---|---|")
    for row in results["wer"]:
        print(f"| {row['decoding']} | {100 * row['wer']:.2f} % | {row['seconds']:.0f} |")
    print(f"\n| recording | peak RSS (chunks of <= {args.chunk_seconds[-1]:g} s) |\n|---|---|")
    for row in results["memory"]:
        print(f"| {row['minutes']:g} min | {row['max_rss_mb']:.0f} MB |")


if __name__ == "__main__":
    sys.exit(main())
