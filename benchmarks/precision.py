"""Seconds per update of a recipe in float32 and in bf16 autocast, on this machine.

    python -m benchmarks.precision vit_fashion_mnist asr_digits translation_de_en [--steps 40 240]

For each recipe and precision, ``tformer-train experiment=RECIPE`` runs twice, to the two
``--steps`` (no validation, no test); the difference of the two wall times over the difference
of the updates is the cost of an update with data loading and the optimizer included, while
start-up, data preparation and tokenizer fitting cancel. Whether ``trainer.precision=auto``
(bf16 where the hardware multiplies it natively) pays depends on the model, not only the
machine: this prints the ratio per recipe.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRECISIONS = ("32-true", "bf16-mixed")


def seconds_per_update(overrides: list[str], precision: str, steps: tuple[int, int], root: Path) -> float:
    """Wall seconds of one update: two runs of ``tformer-train`` to ``steps[0]`` and ``steps[1]``."""
    walls = []
    for n in steps:
        run_dir = root / f"{precision}-{n}"
        command = [sys.executable, "-m", "tformer.cli.train", *overrides, f"trainer.precision={precision}",
                   f"trainer.max_steps={n}", "trainer.limit_val_batches=0", "test=false", "examples=0",
                   "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return (walls[1] - walls[0]) / (steps[1] - steps[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--steps", type=int, nargs=2, default=(40, 240), metavar=("FEW", "MANY"))
    parser.add_argument("--override", action="append", default=[], help="a Hydra override for every run")
    args = parser.parse_args(argv)
    if not 0 < args.steps[0] < args.steps[1]:
        parser.error(f"--steps {args.steps[0]} {args.steps[1]}: need 0 < FEW < MANY")
    print("| recipe | float32 s/update | bf16 s/update | bf16 speed-up |")
    print("|---|---|---|---|")
    for recipe in args.recipes:
        with tempfile.TemporaryDirectory(prefix="tformer-precision-") as root:
            overrides = [f"experiment={recipe}", *args.override]
            fp32, bf16 = (seconds_per_update(overrides, p, tuple(args.steps), Path(root)) for p in PRECISIONS)
        print(f"| {recipe} | {fp32:.3f} | {bf16:.3f} | {fp32 / bf16:.2f}× |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
