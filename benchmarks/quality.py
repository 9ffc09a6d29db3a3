"""Train recipes on their built-in data and record test metrics with the learning curve.

    python -m benchmarks.quality vit_fashion_mnist asr_digits translation_de_en [-- extra overrides]

Each recipe runs as ``tformer-train experiment=NAME`` in ``benchmarks/runs/NAME``; the summary
(test metrics, training minutes, validation curve) goes to ``benchmarks/runs/NAME/summary.json``
and is printed as a Markdown table row for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RUNS = Path(__file__).resolve().parent / "runs"


def curve(run_dir: Path) -> list[dict[str, float]]:
    """Validation rows of ``metrics.csv``: step, epoch and every val/* value."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return []
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        values = {k: float(v) for k, v in row.items() if k.startswith("val/") and v}
        if values:
            out.append({"step": int(float(row["step"])), "epoch": float(row.get("epoch") or 0), **values})
    return out


def cpu_models() -> list[str]:
    """The ``model name`` of each logical CPU in /proc/cpuinfo; empty where there is none."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return []
    return [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]


def cpu_generation() -> str:
    """``family 25, model 17`` of the first CPU in /proc/cpuinfo (the model name of a cloud CPU,
    "AMD EPYC", does not tell a Zen 4 from a Zen 5); empty where there is none."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return ""
    fields = dict(line.split(":", 1) for line in cpuinfo.read_text().split("\n\n")[0].splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    return f"family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}"


def machine() -> str:
    """The CPU model, its usable CPUs and the 1-minute load average: the conditions of a run."""
    names = cpu_models()
    model = names[0] if names else platform.processor() or platform.machine()
    model = f"{model} ({cpu_generation()})" if cpu_generation() else model
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()  # after taskset
    load = f", load {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return f"{model}, {cpus} CPUs{load}"


def run(recipe: str, overrides: list[str], tag: str = "") -> dict:
    run_dir = RUNS / (f"{recipe}-{tag}" if tag else recipe)
    command = [_script("tformer-train"), f"experiment={recipe}", f"hydra.run.dir={run_dir}", "trainer.enable_progress_bar=false", *overrides]
    before = machine()
    started = time.time()
    subprocess.run(command, check=True)
    minutes = (time.time() - started) / 60
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = {
        "recipe": recipe, "command": " ".join(command), "wall_minutes": round(minutes, 1),
        "test": metrics.get("test", {}), "time_budget": metrics.get("time_budget"), "curve": curve(run_dir),
        "machine_before": before, "machine_after": machine(),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _script(name: str) -> str:
    """The console script installed beside this Python (a venv that is not activated), else the PATH's."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--override", action="append", default=[], help="a Hydra override for every recipe")
    parser.add_argument("--tag", default="", help="run into benchmarks/runs/RECIPE-TAG (to keep variants apart)")
    args = parser.parse_args()
    for recipe in args.recipes:
        summary = run(recipe, args.override, args.tag)
        tests = ", ".join(f"{k} {v:.4f}" for k, v in sorted(summary["test"].items()))
        print(f"| {recipe} | {tests} | {summary['wall_minutes']} min |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
