"""Choose the beam size and length penalty on the validation split, then score the test split.

    python -m benchmarks.decoding benchmarks/runs/translation_de_en [--beams 1 4 8] [--alphas 0.6 1.0 1.4]

Loads the run's last checkpoint and its data module (from the run's ``.hydra/config.yaml``), scores
every (beam, alpha) pair on the validation sentences with sacreBLEU, and scores the test split
with the recipe's own setting and with the validation's best, so the test set chooses nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import hydra
import sacrebleu
from omegaconf import OmegaConf

import tformer
from tformer.tasks import Beam


def search_of(task) -> tuple[int, float]:
    """(beam size, length penalty) of the task's generator; a generator without a beam is greedy."""
    generator = task.generator
    return (generator.beam_size, generator.length_penalty) if isinstance(generator, Beam) else (1, 0.0)


def bleu(task, sources: list[str], references: list[str], beam_size: int, alpha: float) -> float:
    """sacreBLEU of the task's predictions with its generator searching ``beam_size`` beams with
    length penalty ``alpha`` (a beam of the same kind: a CTC-rescored one stays rescored)."""
    generator = task.generator
    kind, options = (type(generator), generator.init_kwargs) if isinstance(generator, Beam) else (Beam, {})
    task.generator = kind(**{**options, "beam_size": beam_size, "length_penalty": alpha})
    try:
        return sacrebleu.corpus_bleu(task.predict(sources), [references]).score
    finally:
        task.generator = generator


def grid(task, sources: list[str], references: list[str], beams: list[int], alphas: list[float]) -> dict:
    """BLEU for every (beam, alpha); greedy (beam 1) once, with alpha 0 (it has no length penalty)."""
    return {(beam, alpha): bleu(task, sources, references, beam, alpha)
            for beam in beams for alpha in (alphas if beam > 1 else [0.0])}


def run_splits(run: Path) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """(sources, references) of the validation and the test split, from the run's own data config
    (the data fields the task's ``source`` and ``target`` read)."""
    config = run / ".hydra" / "config.yaml"
    if not config.is_file():
        raise SystemExit(f"{config} not found: give a run directory written by tformer-train")
    data = hydra.utils.instantiate(OmegaConf.load(config).data)  # a valid_fraction split-off too
    if data.valid is None or data.test is None:
        raise SystemExit(f"{config}: the run's data has no validation or no test split")
    source, target = data.column_of("source"), data.column_of("target")
    return tuple((list(raw.column(source)), [str(t) for t in raw.column(target)]) for raw in (data.valid, data.test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.6, 1.0, 1.4])
    parser.add_argument("--checkpoint", default="checkpoints/last.ckpt", help="relative to the run")
    args = parser.parse_args()
    valid, test = run_splits(args.run)
    task = tformer.load(args.run / args.checkpoint)
    default = search_of(task)
    print("| beam | length penalty | validation BLEU |\n|---|---|---|")
    scores = grid(task, *valid, args.beams, args.alphas)
    for (beam, alpha), score in scores.items():
        print(f"| {beam} | {alpha} | {score:.2f} |")
    best = max(scores, key=scores.get)
    for name, (beam, alpha) in (("recipe", default), ("best on validation", best)):
        print(f"test BLEU, {name} (beam {beam}, length penalty {alpha}): {bleu(task, *test, beam, alpha):.2f}")


if __name__ == "__main__":
    sys.exit(main())
