"""``tformer-plot``: pictures of positions, attention maps and training curves.

    tformer-plot positions --d-model 128 --length 100 -o pos.png
    tformer-plot attention --ckpt CKPT --input "Ich sehe das Haus." -o att.png [--layer L] [--head H]
    tformer-plot curves --run RUN_DIR [RUN_DIR ...] -o curves.png
    tformer-plot boxes --ckpt CKPT --input canvas.png -o boxes.png [--threshold 0.5]
    tformer-plot queries --ckpt CKPT --input canvas.png -o queries.png [--queries 4] [--layer -1]
"""

from __future__ import annotations

import argparse
import sys

from tformer.cli.errors import friendly_errors
from tformer.plots.figures import SUFFIXES, check_output

__all__ = ["main", "build_parser"]

OUTPUT_HELP = f"output picture; the suffix picks the format ({', '.join(SUFFIXES)})"


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``tformer-plot`` (one subcommand per kind of picture)."""
    parser = argparse.ArgumentParser(prog="tformer-plot", description="Draw tformer pictures.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{positions,attention,curves,boxes,queries}")
    positions = commands.add_parser("positions", help="the sinusoidal position table and its dot products")
    positions.add_argument("--d-model", type=int, default=128, help="width of the table (128)")
    positions.add_argument("--length", type=int, default=100, help="number of positions (100)")
    attention = commands.add_parser("attention", help="attention maps of a checkpoint for one input")
    attention.add_argument("--ckpt", required=True, help="a .ckpt file or a run directory")
    attention.add_argument("--input", required=True,
                           help="one input of the checkpoint's input field: a sentence, or an image or audio file path")
    attention.add_argument("--layer", type=int, help="only this layer (0-based; -1 = last)")
    attention.add_argument("--head", type=int, help="only this head (0-based; -1 = last)")
    attention.add_argument("--beam-size", type=int, help="search width for the decoded output (default: the task's)")
    curves = commands.add_parser("curves", help="training curves from a run's metrics.csv")
    curves.add_argument("--run", required=True, nargs="+", help="run directories (or metrics.csv files)")
    boxes = commands.add_parser("boxes", help="the boxes a detection checkpoint finds on an image")
    boxes.add_argument("--threshold", type=float, help="the least score drawn (default: the task's score_threshold)")
    queries = commands.add_parser("queries", help="where a detection checkpoint's object queries look on an image")
    queries.add_argument("--queries", type=int, default=4, help="how many queries, the best-scoring first (4)")
    queries.add_argument("--layer", type=int, default=-1, help="the decoder layer (0-based; -1 = last)")
    for command in (boxes, queries):
        command.add_argument("--ckpt", required=True, help="a detection .ckpt file or a run directory")
        command.add_argument("--input", required=True, help="an image file")
    for command in (positions, attention, curves, boxes, queries):
        command.add_argument("-o", "--output", required=True, help=OUTPUT_HELP)
    return parser


def _draw(args: argparse.Namespace) -> str:
    check_output(args.output)  # fail on a bad suffix before loading anything
    if args.command == "positions":
        from tformer.plots.positions import plot_positions

        return str(plot_positions(args.output, args.d_model, args.length))
    if args.command == "curves":
        from tformer.plots.curves import plot_curves

        return str(plot_curves(args.run, args.output))
    import tformer

    task = tformer.load(args.ckpt)
    if args.command in ("boxes", "queries"):
        from tformer.plots.detection import plot_boxes, plot_queries

        if args.command == "boxes":
            return str(plot_boxes(task, args.input, args.output, args.threshold))
        return str(plot_queries(task, args.input, args.output, args.queries, args.layer))
    from tformer.plots.attention import plot_attention

    return str(plot_attention(task, args.input, args.output, args.layer, args.head, args.beam_size))


@friendly_errors("tformer-plot")
def main(argv: list[str] | None = None) -> int:
    """Run ``tformer-plot``; a user error prints one line to stderr and exits with status 2.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).
    Returns:
        The exit status, 0.
    """
    args = build_parser().parse_args(argv)
    print(f"tformer-plot: wrote {_draw(args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
