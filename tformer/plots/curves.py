"""Training curves from a run's ``metrics.csv`` (Lightning's CSVLogger)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure

from .figures import new_figure, save_figure

__all__ = ["read_metrics", "curves_figure", "plot_curves"]

Series = dict[str, list[tuple[float, float]]]  # column -> [(step, value)]
STAGES = ("train", "val", "test")
STAGE_STYLE = {
    "train": dict(color="C0", lw=1.2, alpha=0.8),
    "val": dict(color="C1", marker="o", ms=4, lw=1.5),
    "test": dict(color="C2", marker="*", ms=12, ls="none"),
}
RUN_STYLES = ("-", "--", ":", "-.")


def _metrics_file(run: str | Path) -> Path:
    path = Path(run)
    path = path / "metrics.csv" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"--run {run}: no metrics.csv there; give a run directory written by tformer-train (logger=csv)")
    return path


def read_metrics(run: str | Path) -> Series:
    """Every metric column of ``run/metrics.csv`` as (step, value) points.

    Lightning writes one row per logging call, with the columns it did not log left empty,
    so each column is sparse: empty and NaN cells are skipped.

    Args:
        run: a run directory, or its ``metrics.csv``.
    Returns:
        column name -> points sorted by step (``epoch`` and ``step`` are not metrics).
    """
    series: Series = defaultdict(list)
    with _metrics_file(run).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            step = _number(row.get("step"))
            if step is None:
                continue
            for name, cell in row.items():
                value = _number(cell)
                if name not in ("epoch", "step") and value is not None:
                    series[name].append((step, value))
    if not series:
        raise ValueError(f"--run {run}: metrics.csv holds no logged values yet")
    return {name: sorted(points) for name, points in series.items()}


def _number(cell: str | None) -> float | None:
    try:
        value = float(cell) if cell not in (None, "") else None
    except ValueError:
        return None
    return None if value is None or math.isnan(value) else value


def _run_names(runs: Sequence[str | Path]) -> list[str]:
    # The run folder's name, with as many parent folders as it takes to tell the runs apart.
    folders = [Path(run).resolve() if Path(run).is_dir() else Path(run).resolve().parent for run in runs]
    for depth in range(1, max(len(f.parts) for f in folders) + 1):
        names = ["/".join(f.parts[-depth:]) for f in folders]
        if len(set(names)) == len(names):
            return names
    return [str(f) for f in folders]


def _panels(series: Series) -> dict[str, list[str]]:
    # "train/loss", "val/loss", "test/loss" share the panel "loss"; "lr-Adam" gets its own.
    panels: dict[str, list[str]] = defaultdict(list)
    for name in series:
        stage, _, metric = name.partition("/")
        panels[metric.removesuffix("_step").removesuffix("_epoch") if stage in STAGES and metric else name].append(name)
    order = lambda key: (key != "loss", key.startswith("lr"), key)
    return {key: panels[key] for key in sorted(panels, key=order)}


def curves_figure(runs: Sequence[str | Path]) -> Figure:
    """One panel per metric (loss first, learning rate last), a line per stage and run.

    Args:
        runs: run directories (or ``metrics.csv`` files); several are drawn over each other.
    Returns:
        The figure.
    """
    data = dict(zip(_run_names(runs), (read_metrics(run) for run in runs)))
    panels: dict[str, list[str]] = {}
    for series in data.values():
        for key, names in _panels(series).items():
            panels.setdefault(key, [])
            panels[key] += [n for n in names if n not in panels[key]]
    cols = 2 if len(panels) in (2, 4) else min(3, len(panels))
    rows = -(-len(panels) // cols)
    figure = new_figure(4.6 * cols, 3.4 * rows)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for ax, (key, names) in zip(axes, panels.items()):
        _draw_panel(ax, key, names, data)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    return figure


def _draw_panel(ax, key: str, names: list[str], data: dict[str, Series]) -> None:
    for index, (run, series) in enumerate(data.items()):
        for name in names:
            if name not in series:
                continue
            steps, values = zip(*series[name])
            style = dict(STAGE_STYLE.get(name.partition("/")[0], dict(lw=1.2)))
            if len(data) > 1 and style.get("ls") != "none":
                style["ls"] = RUN_STYLES[index % len(RUN_STYLES)]
            ax.plot(steps, values, label=name if len(data) == 1 else f"{run}: {name}", **style)
    ax.set(title=key, xlabel="step")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_curves(runs: Sequence[str | Path], path: str | Path) -> Path:
    """Write ``curves_figure(runs)`` to ``path`` (.png, .svg or .pdf).

    Returns:
        The path written.
    """
    return save_figure(curves_figure(runs), path)
