"""How digits recognizers trained on synthetic voices hear a person: WER on ``recorded_digits``.

    python -m benchmarks.real_digits benchmarks/runs/asr_digits/checkpoints/last.ckpt \\
        benchmarks/runs/asr_digits_voices/checkpoints/last.ckpt [--count 300] [--out DIR]

Each checkpoint transcribes the same strings (its own beam search, as ``predict`` does); printed
per checkpoint: WER and CER (torchmetrics) and the words it most often gets wrong; ``--out`` also
writes ``summary.json`` and each checkpoint's hypotheses.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import torch
from torchmetrics.functional.text import char_error_rate, word_error_rate

import tformer
from tformer.data import recorded_digits


def missed_words(hypotheses: list[str], references: list[str]) -> Counter:
    """Reference words absent from their hypothesis, counted with multiplicity (a cheap error profile)."""
    missed = Counter()
    for hypothesis, reference in zip(hypotheses, references):
        missed.update(Counter(reference.split()) - Counter(hypothesis.split()))
    return missed


def score(checkpoint: str, paths: list[str], references: list[str]) -> dict:
    """WER, CER and the most missed words of ``checkpoint`` on the clips ``paths``."""
    task = tformer.load(checkpoint).eval()
    hypotheses = task.predict(paths)
    return {
        "checkpoint": checkpoint, "clips": len(paths), "words": sum(len(r.split()) for r in references),
        "wer": round(100 * word_error_rate(hypotheses, references).item(), 2),
        "cer": round(100 * char_error_rate(hypotheses, references).item(), 2),
        "missed": dict(missed_words(hypotheses, references).most_common(5)),
        "hypotheses": hypotheses,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.real_digits", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--count", type=int, default=300, help="the first COUNT strings of the test split")
    parser.add_argument("--out", help="a folder for summary.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = recorded_digits()
    items = [data[i] for i in range(min(args.count, len(data)))]
    paths, references = [item["source"] for item in items], [item["target"] for item in items]
    results = []
    for checkpoint in args.checkpoints:
        result = score(checkpoint, paths, references)
        results.append(result)
        print(f"{checkpoint}: WER {result['wer']:.2f} %, CER {result['cer']:.2f} % over {result['words']} words "
              f"of {result['clips']} strings; most missed {result['missed']}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        summary = [{k: v for k, v in r.items() if k != "hypotheses"} for r in results]
        (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        for number, result in enumerate(results):
            lines = [f"{r}\t{h}" for r, h in zip(references, result["hypotheses"])]
            (Path(args.out) / f"hypotheses-{number}.tsv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
