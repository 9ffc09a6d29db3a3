"""How digits recognizers trained on synthetic voices hear a person: WER on ``recorded_digits``.

    python -m benchmarks.real_digits benchmarks/runs/asr_digits/checkpoints/last.ckpt \\
        benchmarks/runs/asr_digits_voices/checkpoints/last.ckpt [--count 300] [--ctc-weight 0.5 1] [--pre-beam 16] [--out DIR]

Each checkpoint transcribes the same strings (its own generator, as ``predict`` does, and with
``--ctc-weight`` also joint CTC/attention decoding at each weight given); printed per checkpoint
and decoding: WER and CER (torchmetrics) and the words it most often gets wrong; ``--out`` also
writes ``summary.json`` and each decoding's hypotheses.
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
from tformer.registry import GENERATORS
from tformer.tasks.generators import CtcJointBeam


def missed_words(hypotheses: list[str], references: list[str]) -> Counter:
    """Reference words absent from their hypothesis, counted with multiplicity (a cheap error profile)."""
    missed = Counter()
    for hypothesis, reference in zip(hypotheses, references):
        missed.update(Counter(reference.split()) - Counter(hypothesis.split()))
    return missed


def score(task, checkpoint: str, paths: list[str], references: list[str]) -> dict:
    """WER, CER and the most missed words of ``task`` (loaded from ``checkpoint``) on the clips ``paths``."""
    hypotheses = task.predict(paths)
    return {
        "checkpoint": checkpoint, "decoding": GENERATORS.name_of(task.generator),
        "ctc_weight": getattr(task.generator, "ctc_weight", None),
        "clips": len(paths), "words": sum(len(r.split()) for r in references),
        "wer": round(100 * word_error_rate(hypotheses, references).item(), 2),
        "cer": round(100 * char_error_rate(hypotheses, references).item(), 2),
        "missed": dict(missed_words(hypotheses, references).most_common(5)),
        "hypotheses": hypotheses,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.real_digits", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--count", type=int, default=300, help="the first COUNT strings of the test split")
    parser.add_argument("--ctc-weight", type=float, nargs="+", default=[],
                        help="also decode with ctc_joint at each of these CTC weights (1: CTC's prefix beam alone)")
    parser.add_argument("--pre-beam", type=int, default=None,
                        help="ctc_joint's pre-beam (default: the whole vocabulary, as the digits recipes)")
    parser.add_argument("--out", help="a folder for summary.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = recorded_digits()
    items = [data[i] for i in range(min(args.count, len(data)))]
    paths, references = [item["source"] for item in items], [item["target"] for item in items]
    results = []
    for checkpoint in args.checkpoints:
        task = tformer.load(checkpoint).eval()
        own = task.generator
        for weight in [None, *args.ctc_weight]:
            if weight is not None:
                task.generator = CtcJointBeam(getattr(own, "beam_size", 4), getattr(own, "length_penalty", 0.6), weight,
                                              args.pre_beam)
                task.generator.check(task, "--ctc-weight")
            result = score(task, checkpoint, paths, references)
            results.append(result)
            how = result["decoding"] + (f" {weight:g}" if weight is not None else "")
            print(f"{checkpoint} ({how}): WER {result['wer']:.2f} %, CER {result['cer']:.2f} % over {result['words']} "
                  f"words of {result['clips']} strings; most missed {result['missed']}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        summary = [{k: v for k, v in r.items() if k != "hypotheses"} for r in results]
        (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        for number, result in enumerate(results):
            lines = [f"{r}\t{h}" for r, h in zip(references, result["hypotheses"])]
            (Path(args.out) / f"hypotheses-{number}.tsv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
