"""``tformer-average``: average the parameters of a run's last checkpoints (as the paper does).

    tformer-average runs/2025-01-01/12-00-00 --last 5 -o averaged.ckpt
    tformer-average a.ckpt b.ckpt c.ckpt -o averaged.ckpt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tformer.averaging import average_checkpoints, find_checkpoints, save_checkpoint
from tformer.cli.errors import friendly_errors

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``tformer-average``."""
    parser = argparse.ArgumentParser(
        prog="tformer-average",
        description="Average the floating-point parameters of checkpoints of one run into a new checkpoint.",
    )
    parser.add_argument("inputs", nargs="+", help="run directories (their checkpoints/step*.ckpt) and/or .ckpt files, oldest first")
    parser.add_argument("--last", type=int, help="average only the newest N of them (the paper: 5 for base, 20 for big)")
    parser.add_argument("-o", "--output", required=True, help="the averaged checkpoint to write (.ckpt)")
    return parser


@friendly_errors("tformer-average")
def main(argv: list[str] | None = None) -> int:
    """Run ``tformer-average``; a user error prints one line to stderr and exits with status 2.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).
    Returns:
        The exit status, 0.
    """
    args = build_parser().parse_args(argv)
    paths = find_checkpoints(args.inputs, args.last)
    output = Path(args.output)
    if any(output.resolve() == p.resolve() for p in paths):
        raise ValueError(f"-o {output} is one of the checkpoints being averaged; write to another file")
    checkpoint = average_checkpoints(paths)
    save_checkpoint(checkpoint, output)
    names = ", ".join(p.name for p in paths) if len(paths) <= 6 else f"{paths[0].name} ... {paths[-1].name}"
    print(f"tformer-average: averaged {len(paths)} checkpoint{'s' if len(paths) != 1 else ''} ({names}) -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
