"""``tformer-data``: prepare the built-in data sets offline, or list them.

    tformer-data --list
    tformer-data freedict_de_en [--root DIR] [--force]
    tformer-data espeak_digits --train-size 3000 --valid-size 200 --test-size 300
    tformer-data espeak_digits --synthesizers espeak flite festival
    tformer-data espeak_digits --synthesizers espeak flite festival --stretch 0.8 2.0   # slower speech too
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tformer.cli.errors import friendly_errors
from tformer.data import BUILTINS, DataError, data_root, prepared_folder
from tformer.data.builtin import changed_options, read_info

__all__ = ["main", "build_parser"]

_SIZE_OPTIONS = ("train_size", "valid_size", "test_size", "seed")


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``tformer-data``."""
    parser = argparse.ArgumentParser(prog="tformer-data", description="Prepare tformer's built-in data sets.")
    parser.add_argument("name", nargs="?", help="the data set to prepare (see --list)")
    parser.add_argument("--list", action="store_true", help="list the built-in data sets and where they are")
    parser.add_argument("--root", help="data folder (default: $TFORMER_DATA or ~/.cache/tformer/data)")
    parser.add_argument("--force", action="store_true", help="prepare again even if already prepared")
    for option in _SIZE_OPTIONS:
        parser.add_argument("--" + option.replace("_", "-"), type=int, dest=option, help=f"{option} (if it has one)")
    parser.add_argument("--synthesizers", nargs="+", help="who speaks (espeak_digits, espeak_sentences): espeak flite festival")
    parser.add_argument("--stretch", nargs=2, type=float, metavar=("LOW", "HIGH"),
                        help="duration factors every synthesizer draws from, 0.5-2.0 (1: 160 words a minute; "
                             "espeak_digits, espeak_sentences); default: each synthesizer's own range")
    return parser


def _list(root: str | None) -> None:
    base = data_root(root)
    for name, builtin in sorted(BUILTINS.items()):
        info = read_info(base / name)
        state = f"prepared, {_counts(info)}" if info else "not prepared"
        print(f"{name:18s} {builtin.description}\n{'':18s} {base / name} ({state})")
        for folder in sorted(base.glob(f"{name}-*")):  # prepared with other options
            other = read_info(folder)
            if other:
                changed = changed_options(builtin, other.get("options", {}))
                print(f"{'':18s} {folder} ({_counts(other)}; {_options(changed)})")


def _options(options: dict) -> str:
    return " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(options.items()))


def _counts(info: dict) -> str:
    return ", ".join(f"{split} {count}" for split, count in info.get("splits", {}).items())


def _prepare(args: argparse.Namespace) -> None:
    if args.name not in BUILTINS:
        raise DataError(f"unknown data set {args.name!r}; choose one of {', '.join(sorted(BUILTINS))}")
    options = {k: getattr(args, k) for k in (*_SIZE_OPTIONS, "synthesizers", "stretch") if getattr(args, k) is not None}
    unknown = sorted(set(options) - set(BUILTINS[args.name].defaults))
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise DataError(f"{args.name} takes no {flags}")
    started = time.perf_counter()
    folder = prepared_folder(args.name, args.root, force=args.force, **options)
    info = read_info(folder) or {}
    print(f"{args.name}: {folder} ({_counts(info)}; {time.perf_counter() - started:.1f} s)")
    if info.get("skipped"):  # what preparation left out, and why (info.json keeps the details)
        print(f"{args.name}: skipped {_options(info['skipped'])}")


@friendly_errors("tformer-data")
def main(argv: list[str] | None = None) -> int:
    """Run ``tformer-data``; a user error prints one line to stderr and exits with status 2.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).
    Returns:
        The exit status, 0.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        _list(args.root)
    elif args.name is None:
        parser.error("name a data set to prepare, or pass --list")
    else:
        try:
            _prepare(args)
        except OSError as error:  # e.g. no permission to write under --root
            raise DataError(str(error)) from error
    return 0


if __name__ == "__main__":
    sys.exit(main())
