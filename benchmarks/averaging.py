"""Does averaging the last N checkpoints (the paper's recipe) evaluate at least as well as the last one?

    python -m benchmarks.averaging benchmarks/runs/translation_de_en --last 5 [--beam-size 4]

Averages the run's newest N ``step*.ckpt`` files with ``tformer-average``, then scores the last
checkpoint and the average on the test split of the run's own data config with sacreBLEU.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import tformer
from benchmarks.decoding import bleu, run_splits, search_of


def score(checkpoint: Path, sources: list[str], references: list[str], beam_size: int) -> float:
    task = tformer.load(checkpoint)
    return bleu(task, sources, references, beam_size, search_of(task)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--last", type=int, default=5)
    parser.add_argument("--beam-size", type=int, default=4)
    args = parser.parse_args()
    averaged = args.run / f"averaged_last{args.last}.ckpt"
    subprocess.run(["tformer-average", str(args.run), "--last", str(args.last), "-o", str(averaged)], check=True)
    _, (sources, references) = run_splits(args.run)  # the test split the run was trained with
    last = score(args.run / "checkpoints" / "last.ckpt", sources, references, args.beam_size)
    mean = score(averaged, sources, references, args.beam_size)
    print(f"| test BLEU, beam {args.beam_size} | last checkpoint {last:.2f} | average of last {args.last} {mean:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
