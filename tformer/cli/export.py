"""``tformer-export``: a checkpoint as ONNX graphs (onnxruntime, TensorRT, ...) or a torch.export program.

    tformer-export runs/.../checkpoints/last.ckpt -o model.onnx   # classification: model.onnx
    tformer-export CKPT -o model.onnx    # translation / ASR: model.encoder.onnx + model.decoder.onnx
    tformer-export CKPT -o model.pt2     # torch.export programs (torch.export.load)
"""

from __future__ import annotations

import argparse
import sys

from tformer.cli.errors import friendly_errors

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``tformer-export``."""
    parser = argparse.ArgumentParser(
        prog="tformer-export",
        description="Export a tformer checkpoint to ONNX (.onnx) or torch.export (.pt2); writes <stem>.json beside it.",
    )
    parser.add_argument("ckpt", help="a .ckpt file or a run directory")
    parser.add_argument("-o", "--output", required=True, help="model.onnx or model.pt2 (encoder-decoder tasks: two files)")
    parser.add_argument("--max-len", type=int, default=1024, help="output positions the decoder step supports (1024)")
    return parser


@friendly_errors("tformer-export")
def main(argv: list[str] | None = None) -> int:
    """Run ``tformer-export``; a user error prints one line to stderr and exits with status 2.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).
    Returns:
        The exit status, 0.
    """
    args = build_parser().parse_args(argv)
    import tformer
    from tformer.export import check_format, export_task

    if check_format(args.output).suffix == ".onnx":  # fail before loading anything
        _require_onnx()
    task = tformer.load(args.ckpt)
    for name, path in export_task(task, args.output, args.max_len).items():
        print(f"tformer-export: {name:10s} -> {path}")
    return 0


def _require_onnx() -> None:
    missing = [m for m in ("onnx", "onnxscript") if not _importable(m)]
    if missing:
        raise ValueError(f"ONNX export needs {', '.join(missing)}: pip install 'tformer[export]'")


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
