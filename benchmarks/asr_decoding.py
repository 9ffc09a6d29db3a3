"""Choose the CTC weight of a CTC-scored beam on the validation split, then score the test splits.

    python -m benchmarks.asr_decoding benchmarks/runs/asr_fillets_cs [--weights 0.3 0.5 0.7 0.9] [--extra-split test_unseen]

Loads the run's last checkpoint and its data (``.hydra/config.yaml``), scores every weight λ on
the validation clips (WER), and scores the test split, and each ``--extra-split`` of the same data
set, with the recipe's λ and with the validation's best, so the test clips choose nothing, and
with the CTC head's best path alone (no decoder: what a CTC model such as the Conformer peer
decodes), and with the other way of using CTC in the beam at the validation's weight: joint
CTC/attention scoring at every step (``ctc_joint``) for a recipe that rescores finished beams
(``ctc_beam``), and the other way round. WER and CER from torchmetrics.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import hydra
from omegaconf import OmegaConf
from torchmetrics.functional.text import char_error_rate, word_error_rate

import tformer
from benchmarks.decoding import run_splits
from tformer.tasks.generators import CtcGreedy, CtcJointBeam, CtcRescoredBeam


def scores(task, audio: list[str], references: list[str], weight: float | None, joint: bool | None = None) -> dict[str, float]:
    """WER and CER of the task's CTC-scored beam with CTC weight ``weight`` (``joint``: with
    ``CtcJointBeam`` or ``CtcRescoredBeam`` instead of the task's kind); ``None``: of the CTC
    head's best path alone (``CtcGreedy``, the decoder unused)."""
    generator = task.generator
    kwargs = {**generator.init_kwargs, "ctc_weight": weight}
    kind = type(generator) if joint is None else CtcJointBeam if joint else CtcRescoredBeam
    if kind is CtcRescoredBeam:
        kwargs.pop("pre_beam", None)
    task.generator = CtcGreedy(kwargs.get("objective", "ctc")) if weight is None else kind(**kwargs)
    try:
        hypotheses = task.predict(audio)
    finally:
        task.generator = generator
    return {"wer": float(word_error_rate(hypotheses, references)), "cer": float(char_error_rate(hypotheses, references))}


def extra_split(run: Path, split: str) -> tuple[list[str], list[str]]:
    """(audio, references) of another split of the run's test data set (``test_unseen``)."""
    data = OmegaConf.load(run / ".hydra" / "config.yaml").data
    raw = hydra.utils.instantiate({**OmegaConf.to_container(data.test, resolve=True), "split": split})
    fields = data.get("fields") or {}
    return list(raw.column(fields.get("source", "source"))), [str(t) for t in raw.column(fields.get("target", "target"))]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--extra-split", action="append", default=[])
    parser.add_argument("--checkpoint", default="checkpoints/last.ckpt", help="relative to the run")
    args = parser.parse_args(argv)
    task = tformer.load(args.run / args.checkpoint)
    if not isinstance(task.generator, CtcRescoredBeam):
        raise SystemExit(f"{args.run}: the task decodes with {type(task.generator).__name__}, not a CTC-rescored beam")
    valid, test = run_splits(args.run)
    recipe = task.generator.ctc_weight if task.generator.ctc_weight is not None else task.objectives["ctc"].weight
    on_valid = {w: scores(task, *valid, w) for w in args.weights}
    best = min(on_valid, key=lambda w: on_valid[w]["wer"])
    splits = {"test": test, **{name: extra_split(args.run, name) for name in args.extra_split}}
    joint = isinstance(task.generator, CtcJointBeam)
    other = f"{'rescored beam' if joint else 'joint decoding'} at the best ({best})"
    tested = {name: {f"recipe ({recipe})": scores(task, *data, recipe), f"best on validation ({best})": scores(task, *data, best),
                     other: scores(task, *data, best, joint=not joint), "CTC best path": scores(task, *data, None)}
              for name, data in splits.items()}
    summary = {"decoding": "ctc_joint" if joint else "ctc_beam", "valid": {str(w): s for w, s in on_valid.items()},
               "best": best, "test": tested}
    (args.run / "decoding.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    sys.exit(main() and None)
