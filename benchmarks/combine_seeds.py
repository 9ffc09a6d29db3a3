"""The mean and standard deviation over seeds of every figure in several runs' ``summary.json``.

    python -m benchmarks.combine_seeds benchmarks/runs/tagging_peer-seed0 benchmarks/runs/tagging_peer-seed1 \\
        benchmarks/runs/tagging_peer-seed2 --key test_f1

One run's test set is one draw: on small test sets (punctuation_en's 20 exclamation marks) a
second seed moves a tag's F1 by points. Each numeric leaf under ``--key`` (all of them without it)
gets a row: its dotted path, the mean, the sample standard deviation and the values in run order.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def leaves(tree: Any, prefix: str = "") -> dict[str, float]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1.0}``: every number of a JSON tree by its dotted path."""
    if isinstance(tree, dict):
        out: dict[str, float] = {}
        for key, value in tree.items():
            out |= leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(tree, (int, float)) and not isinstance(tree, bool):
        return {prefix: float(tree)}
    return {}


def combine(summaries: list[dict], key: str | None = None) -> dict[str, dict[str, Any]]:
    """Path -> ``{"mean", "sd", "values"}`` over the summaries (sd 0 for one run).

    Raises:
        ValueError: naming the run and the paths where the runs do not hold the same figures.
    """
    trees = [summary if key is None else summary.get(key) for summary in summaries]
    for i, tree in enumerate(trees):
        if tree is None:
            raise ValueError(f"run {i + 1} has no {key!r} in its summary.json; its keys: {', '.join(summaries[i])}")
    flat = [leaves(tree) for tree in trees]
    for i, figures in enumerate(flat[1:], start=2):
        if set(figures) != set(flat[0]):
            differ = sorted(set(figures) ^ set(flat[0]))[:5]
            raise ValueError(f"run {i} does not hold the same figures as run 1 (differing: {', '.join(differ)})")
    out = {}
    for path in flat[0]:
        values = [figures[path] for figures in flat]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        out[path] = {"mean": statistics.fmean(values), "sd": sd, "values": values}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (or summary.json files), one per seed")
    parser.add_argument("--key", default=None, help="the part of summary.json to combine, e.g. test_f1")
    parser.add_argument("--scale", type=float, default=100.0, help="multiply the figures (100: fractions as %%)")
    args = parser.parse_args(argv)
    paths = [run / "summary.json" if run.is_dir() else run for run in args.runs]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        parser.error(f"no summary.json at {', '.join(missing)}")
    try:
        combined = combine([json.loads(path.read_text()) for path in paths], args.key)
    except ValueError as error:
        parser.error(str(error))
    print(f"| figure | mean ± sd over {len(paths)} | values |\n|---|---|---|")
    for path, row in combined.items():
        values = ", ".join(f"{args.scale * v:.1f}" for v in row["values"])
        print(f"| {path} | {args.scale * row['mean']:.1f} ± {args.scale * row['sd']:.1f} | {values} |")


if __name__ == "__main__":
    main()
