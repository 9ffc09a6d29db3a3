"""Packing (``model.packing``): the padding each stack computes, and the training step, off and on.

    python -m benchmarks.packing [--recipes translation_de_en asr_digits ...] [--batches 40]
        [--repeats 10] [--threads N] [--packing true|INT] [--override KEY=VALUE ...]

For each recipe (its built-in data must be prepared: ``tformer-data NAME``) this builds the
recipe's data, tokenizers and task as ``tformer-train`` does, takes the first ``--batches``
training batches, and reports:

- for each stack of the core (encoder, decoder), the share of the positions it computes that
  are padding: unpacked (the batches as the loader gives them) and packed (the rows packing
  makes of the same batches), and the rows per batch;
- whole training steps (forward, loss, backward, AdamW) unpacked against packed, interleaved
  in one process over the same batches (``_timing.compare``); above 1, packing is faster.

``--override data.max_tokens=null`` gives fixed-size batches (no length bucketing), the case
packing is for.
"""

if __name__ == "__main__" and not __package__:  # `python benchmarks/packing.py`: run it as the module
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "-m", "benchmarks.packing", *sys.argv[1:]]
    raise SystemExit(subprocess.call(command, cwd=Path(__file__).resolve().parents[1]))

import argparse
import itertools
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from hydra import compose, initialize_config_dir

import tformer.core.transformer as transformer
from tformer.cli import CONFIG_DIR
from tformer.cli.train import build
from tformer.core import Decoder, Encoder

from ._timing import compare

__all__ = ["Padding", "measure", "main"]


@dataclass
class Padding:
    """Positions one stack computes over the measured batches: content, unpacked, packed."""

    content: int = 0
    unpacked: int = 0
    packed: int = 0
    rows: list[int] = field(default_factory=list)
    batch: list[int] = field(default_factory=list)

    def fraction(self, positions: int) -> float:
        return 1 - self.content / positions if positions else 0.0


def _stacks(task) -> list[torch.nn.Module]:
    return [m for m in task.core.modules() if isinstance(m, (Encoder, Decoder))]


@contextmanager
def recording_plans(task, record: dict[str, Padding]):
    """Count, for every plan a stack of ``task`` makes, its own positions before and after packing."""
    original, current = transformer.plan, {"stack": "encoder"}

    def recorded(pad_masks, row_length):
        sides = original(pad_masks, row_length)
        mask, packing, entry = pad_masks[0], sides[0], record[current["stack"]]
        entry.content += int((~mask).sum())
        entry.unpacked += mask.numel()
        entry.packed += packing.n_rows * packing.length
        entry.rows.append(packing.n_rows)
        entry.batch.append(mask.size(0))
        return sides

    def naming(name):
        return lambda _module, _args: current.update(stack=name)

    handles = [stack.register_forward_pre_hook(naming("encoder" if isinstance(stack, Encoder) else "decoder"))
               for stack in _stacks(task)]
    transformer.plan = recorded
    try:
        yield
    finally:
        transformer.plan = original
        for handle in handles:
            handle.remove()


def _set_packing(task, packing) -> None:
    for stack in _stacks(task):
        stack.packing = packing


def _compose(recipe: str, overrides: list[str], run_dir: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=[f"experiment={recipe}", f"run_dir={run_dir}", "logger=none", *overrides])


def measure(recipe: str, n_batches: int, repeats: int, packing, overrides: list[str]) -> tuple[dict[str, Padding], float, float]:
    """Padding per stack and (unpacked, packed) median seconds per training step for ``recipe``."""
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = _compose(recipe, overrides, run_dir)
        torch.manual_seed(cfg.seed)
        data, task, trainer = build(cfg)
        data.setup("fit")
        batches = list(itertools.islice(iter(data.train_dataloader()), n_batches))
    task.train()
    record: dict[str, Padding] = defaultdict(Padding)
    _set_packing(task, packing)
    with recording_plans(task, record), torch.no_grad():
        for batch in batches:
            task.loss(batch)
    optimizer = torch.optim.AdamW(task.parameters(), lr=1e-4)
    cycles = {flag: itertools.cycle(batches) for flag in (False, True)}

    def step(flag):
        def run():
            _set_packing(task, packing if flag else False)
            with trainer.precision_plugin.forward_context():  # the recipe's precision (bf16 autocast on CPU)
                loss = task.loss(next(cycles[flag]))[0]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return run

    packed_seconds, unpacked_seconds = compare(step(True), step(False), repeats=repeats, warmup=2)
    return dict(record), unpacked_seconds, packed_seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["translation_de_en", "asr_digits", "lm_fortunes", "topic_fortunes"])
    parser.add_argument("--batches", type=int, default=40, help="training batches measured (and cycled through)")
    parser.add_argument("--repeats", type=int, default=10, help="timed steps of each side")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--packing", default="true", help="true (rows as long as the longest) or a row length")
    parser.add_argument("--override", nargs="*", default=[], help="more Hydra overrides for every recipe")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    packing = True if args.packing == "true" else int(args.packing)
    print(f"threads {torch.get_num_threads()}, packing {args.packing}, overrides {' '.join(args.override) or 'none'}")
    print("| recipe | stack | padding unpacked | padding packed | rows per batch (items) | step unpacked | step packed | speed |")
    print("|---|---|---|---|---|---|---|---|")
    for recipe in args.recipes:
        record, unpacked, packed = measure(recipe, args.batches, args.repeats, packing, args.override)
        for i, (stack, entry) in enumerate(sorted(record.items(), key=lambda kv: kv[0] != "encoder")):
            rows = sum(entry.rows) / len(entry.rows)
            items = sum(entry.batch) / len(entry.batch)
            timing = (f"{unpacked * 1e3:.0f} ms | {packed * 1e3:.0f} ms | {unpacked / packed:.2f}x" if i == 0
                      else "| |")
            print(f"| {recipe} | {stack} | {entry.fraction(entry.unpacked):.1%} | {entry.fraction(entry.packed):.1%} | "
                  f"{rows:.1f} ({items:.1f}) | {timing} |")


if __name__ == "__main__":
    main()
