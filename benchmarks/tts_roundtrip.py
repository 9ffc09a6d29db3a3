"""Intelligibility of a TTS checkpoint by round trip: it speaks digit strings that no espeak_digits
split holds, an ASR checkpoint transcribes them, and the word error rate is reported beside the
same ASR model's on espeak-ng's rendering of the same strings and on that rendering's frames
turned back into sound by the TTS's Griffin-Lim (the vocoder's ceiling); also the mel L1 (after
DTW alignment) between the two renderings.

    python -m benchmarks.tts_roundtrip --tts runs/tts/checkpoints/last.ckpt \\
        --asr runs/asr/checkpoints/last.ckpt --count 100 --out benchmarks/runs/tts_roundtrip

The strings have 3 to 7 digits and are spoken as words ("five zero nine"), as espeak_digits
writes them. espeak-ng renders them with one voice (``--voice``/``--variant``, default en + m3 at
160 words a minute, a variant of the training split). ``--seen`` is the prepared espeak_digits
folder whose splits the strings must avoid (default: the built-in one, prepared if absent).
With ``--out``, ``summary.json``, a WAV of the first string and a picture of both spectrograms.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
from torchmetrics.text import WordErrorRate

import tformer
from tformer.data.builtin import prepared_folder
from tformer.data.espeak import synthesize
from tformer.data.speech_text import DIGIT_WORDS


def seen_digit_strings(folder: Path) -> set[str]:
    """The ``digits`` of every entry in the JSON-lines manifests of ``folder`` (all splits)."""
    seen = set()
    for manifest in sorted(folder.glob("*.jsonl")):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.add(str(json.loads(line)["digits"]))
    return seen


def unseen_digit_strings(count: int, seen: set[str], seed: int = 0, min_digits: int = 3, max_digits: int = 7) -> list[str]:
    """``count`` distinct random digit strings ("5093") outside ``seen``."""
    rng, picked = random.Random(seed), []
    while len(picked) < count:
        digits = "".join(str(rng.randrange(10)) for _ in range(rng.randint(min_digits, max_digits)))
        if digits not in seen and digits not in picked:
            picked.append(digits)
    return picked


def spoken(digits: str) -> str:
    """"509" -> "five zero nine", as espeak_digits writes its texts."""
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


def dtw_l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of frames (T1, D) and (T2, D) along the alignment of least total
    difference (dynamic time warping, steps (1, 1), (1, 0), (0, 1)), per value of the path."""
    cost = np.abs(a[:, None, :] - b[None, :, :]).mean(-1)  # (T1, T2)
    total = np.full((len(a) + 1, len(b) + 1), np.inf)
    length = np.zeros(total.shape, dtype=np.int64)
    total[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            previous = min((i - 1, j - 1), (i - 1, j), (i, j - 1), key=lambda cell: total[cell])
            total[i, j], length[i, j] = total[previous] + cost[i - 1, j - 1], length[previous] + 1
    return float(total[-1, -1] / length[-1, -1])


def espeak_renderings(texts: list[str], folder: Path, voice: str, variant: str, speed: int) -> list[tuple[torch.Tensor, int]]:
    """espeak-ng's (waveform, sample rate) of each text."""
    waves = []
    for index, text in enumerate(texts):
        path = folder / f"espeak_{index:04d}.wav"
        synthesize(text, str(path), voice, variant, speed, 50)
        wave, rate = soundfile.read(str(path), dtype="float32")
        waves.append((torch.from_numpy(wave), rate))
    return waves


def roundtrip(tts: Any, asr: Any, digit_strings: list[str], espeak: list[tuple[torch.Tensor, int]]) -> dict[str, Any]:
    """Word error rates of ``asr`` on ``tts``'s speech and on espeak's, and their mel distance.

    Args:
        tts: a loaded tts task; ``asr``: a loaded speech recognizer (audio -> words).
        digit_strings: what to say, as digits.
        espeak: espeak-ng's (waveform, rate) of the same strings.
    Returns:
        The figures, with the TTS waveforms under ``"waves"``.
    """
    references = [spoken(d) for d in digit_strings]
    waves = tts.predict(references)
    ours = [(wave, tts.sample_rate) for wave in waves]
    hypotheses, espeak_hypotheses = asr.predict(ours), asr.predict(espeak)
    frames = [tts.target.prepare(item).numpy() for item in ours]
    espeak_frames = [tts.target.prepare(item).numpy() for item in espeak]
    # The vocoder's ceiling: espeak's own frames through the mel field's Griffin-Lim.
    vocoded = [(tts.target.to_waveform(torch.from_numpy(f)), tts.sample_rate) for f in espeak_frames]
    vocoded_hypotheses = asr.predict(vocoded)
    return {
        "count": len(references),
        "wer": float(WordErrorRate()(hypotheses, references)),
        "wer_espeak": float(WordErrorRate()(espeak_hypotheses, references)),
        "wer_espeak_griffin_lim": float(WordErrorRate()(vocoded_hypotheses, references)),
        "mel_l1_dtw": float(np.mean([dtw_l1(a, b) for a, b in zip(frames, espeak_frames)])),
        "seconds_ours": round(sum(w.numel() for w in waves) / tts.sample_rate, 2),
        "seconds_espeak": round(sum(w.numel() / rate for w, rate in espeak), 2),
        "examples": [{"text": r, "ours": h, "espeak": e} for r, h, e in list(zip(references, hypotheses, espeak_hypotheses))[:5]],
        "misheard": [{"text": r, "ours": h} for r, h in zip(references, hypotheses) if r != h],
        "waves": waves, "frames": (frames[0], espeak_frames[0]),
    }


def write_pictures(out: Path, result: dict[str, Any], sample_rate: int) -> None:
    """The first string's WAV and a PNG of both spectrograms (ours above espeak's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    soundfile.write(str(out / "tts_example.wav"), result["waves"][0].clamp(-1, 1).numpy(), sample_rate, subtype="PCM_16")
    figure, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    low, high = float(result["frames"][1].min()), float(result["frames"][1].max())  # one colour scale: espeak's
    for axis, frames, title in zip(axes, result["frames"], ("tformer tts", "espeak-ng")):
        axis.imshow(frames.T, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high)
        axis.set_title(f"{title}: {result['examples'][0]['text']!r}")
        axis.set_ylabel("mel band")
    axes[-1].set_xlabel("frame (12.5 ms)")
    figure.tight_layout()
    figure.savefig(out / "tts_spectrograms.png", dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tts", required=True, help="a tts checkpoint (tformer-train experiment=tts_digits)")
    parser.add_argument("--asr", required=True, help="an ASR checkpoint (tformer-train experiment=asr_digits)")
    parser.add_argument("--count", type=int, default=100, help="digit strings to speak")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seen", type=Path, default=None, help="a prepared espeak_digits folder whose strings to avoid")
    parser.add_argument("--voice", default="en")
    parser.add_argument("--variant", default="m3")
    parser.add_argument("--speed", type=int, default=160, help="espeak-ng words per minute")
    parser.add_argument("--out", type=Path, default=None, help="a folder for summary.json, a WAV and a PNG")
    parser.add_argument("--attention-window", type=int, nargs=2, default=None, metavar=("BACK", "AHEAD"),
                        help="set the tts task's attention_window before speaking (default: the checkpoint's)")
    parser.add_argument("--no-prenet-dropout", action="store_true",
                        help="speak with the pre-net's dropout off (the recipe keeps it on, as Tacotron 2)")
    args = parser.parse_args(argv)
    seen = seen_digit_strings(args.seen if args.seen is not None else prepared_folder("espeak_digits"))
    digit_strings = unseen_digit_strings(args.count, seen, args.seed)
    tts, asr = tformer.load(args.tts), tformer.load(args.asr)
    if args.attention_window is not None:
        tts.attention_window = args.attention_window
    if args.no_prenet_dropout:
        tts.target.prenet.dropout_at_inference = False
    torch.manual_seed(args.seed)  # the pre-net keeps its dropout when predicting, unless --no-prenet-dropout
    with tempfile.TemporaryDirectory() as folder:
        espeak = espeak_renderings([spoken(d) for d in digit_strings], Path(folder), args.voice, args.variant, args.speed)
        result = roundtrip(tts, asr, digit_strings, espeak)
    summary = {k: v for k, v in result.items() if k not in ("waves", "frames")}
    summary.update(tts=str(args.tts), asr=str(args.asr), seen_strings=len(seen), voice=f"{args.voice}+{args.variant}",
                   attention_window=getattr(tts, "attention_window", None),
                   prenet_dropout=tts.target.prenet.dropout_at_inference)
    print(json.dumps(summary, indent=2))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        write_pictures(args.out, result, tts.sample_rate)
    return summary


if __name__ == "__main__":
    main()
