"""How an ASR checkpoint of digit strings hears other voices, and each augmentation alone.

    python -m benchmarks.voices runs/x/checkpoints/last.ckpt [--count 30]

1. Voices: the same ``--count`` digit strings spoken by every flite and festival voice (duration
   stretch 1.0) and by three espeak test variants; WER per voice.
2. Augmentations: espeak test-variant clips with one augmentation step applied to every clip
   (``p=1``); WER per step. What the augmentation recipe's model should shrug off.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile

import torch
from torchmetrics.functional.text import word_error_rate

import tformer
from tformer.data.augment import AddNoise, Augmentations, PitchShift, Reverberation, SpeedPerturbation, Tempo
from tformer.data.augment import TelephoneBand
from tformer.data.speech_text import digit_string
from tformer.data.synthesis import SYNTHESIZERS

ESPEAK_TEST = ("m8", "f4", "klatt4", "grandma", "norbert")
STEPS = {
    "none": None, "speed 0.9": SpeedPerturbation([0.9], p=1.0), "speed 1.1": SpeedPerturbation([1.1], p=1.0),
    "tempo 0.85": Tempo(0.85, 0.85, p=1.0), "tempo 1.15": Tempo(1.15, 1.15, p=1.0),
    "pitch -3": PitchShift([-3], p=1.0), "pitch +3": PitchShift([3], p=1.0),
    "noise 20 dB": AddNoise([20], p=1.0), "noise 10 dB": AddNoise([10], p=1.0), "noise 5 dB": AddNoise([5], p=1.0),
    "room RT60 0.3 s": Reverberation(0.3, 0.3, p=1.0), "room RT60 0.7 s": Reverberation(0.7, 0.7, p=1.0),
    "telephone 8 kHz": TelephoneBand(p=1.0),
}


def _espeak_params(variant: str) -> dict:
    return {"voice": "en-us", "variant": variant, "speed": 160, "pitch": 50}


def _voices() -> list[tuple[str, str, dict]]:
    """(synthesizer, voice, settings) of every flite and festival voice and some espeak test variants."""
    voices = []
    for name in ("flite", "festival"):
        part = SYNTHESIZERS[name]
        for voice in dict.fromkeys(v for names in part.voices.values() for v in names):
            voices.append((name, voice, {"synthesizer": name, "voice": voice, "speaker": part.speakers[voice], "stretch": 1.0}))
    return voices + [("espeak", v, _espeak_params(v)) for v in ESPEAK_TEST[:3]]


def _render(synthesizer: str, prefix: str, params: list[dict], texts: list[str], folder: str) -> list[str]:
    """Speak ``texts`` with ``synthesizer`` into ``folder``; the WAV paths."""
    jobs = [{"text": text, "path": os.path.join(folder, f"{prefix}-{i}.wav"), "params": settings}
            for i, (text, settings) in enumerate(zip(texts, params))]
    SYNTHESIZERS[synthesizer].run(jobs)
    return [job["path"] for job in jobs]


def main(argv: list[str] | None = None) -> None:
    """Print the WER per voice, then per augmentation step."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.voices", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--count", type=int, default=30, help="digit strings per voice and per step")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    task = tformer.load(args.checkpoint).eval()
    rng = random.Random(12345)
    texts = [digit_string(rng)[0] for _ in range(args.count)]
    with tempfile.TemporaryDirectory() as folder:
        for name, voice, params in _voices():
            paths = _render(name, voice, [params] * len(texts), texts, folder)
            print(f"voice {name:8s} {voice:24s} WER {100 * word_error_rate(task.predict(paths), texts).item():5.1f} %")
        paths = _render("espeak", "mixed", [_espeak_params(rng.choice(ESPEAK_TEST)) for _ in texts], texts, folder)
        for label, step in STEPS.items():
            augment, draws = Augmentations([step] if step else []), torch.Generator().manual_seed(0)
            hyps = task.predict([augment(path, draws) for path in paths])
            print(f"espeak test variants, {label:16s} WER {100 * word_error_rate(hyps, texts).item():5.1f} %")


if __name__ == "__main__":
    main()
