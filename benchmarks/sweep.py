"""Train variants of one recipe side by side and compare them at the same number of updates.

    python -m benchmarks.sweep translation_de_en --jobs 8 \\
        --variant base= --variant d03=model.dropout=0.3 --variant d03v2k="model.dropout=0.3 source.vocab_size=2000" \\
        --override trainer=gpu --override trainer.precision=32-true

A variant is ``TAG=OVERRIDES`` (space-separated Hydra overrides, empty for the recipe as it is).
Each trains in ``benchmarks/runs/RECIPE-sweep-TAG`` with its own log; the table at the end gives
each variant's test metrics, best validation values and updates. With ``trainer.max_steps`` fixed,
a run on a GPU learns what the same number of CPU updates learns (same seed, same batches), so a
GPU can search settings that a CPU budget then confirms.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.quality import RUNS, curve


def parse_variant(text: str) -> tuple[str, list[str]]:
    tag, sep, overrides = text.partition("=")
    if not sep or not tag.replace("-", "").replace("_", "").isalnum():
        raise SystemExit(f"--variant {text!r}: expected TAG=OVERRIDES with a plain tag, e.g. d03=model.dropout=0.3")
    return tag, shlex.split(overrides)


def start(recipe: str, tag: str, overrides: list[str]) -> tuple[subprocess.Popen, Path]:
    run_dir = RUNS / f"{recipe}-sweep-{tag}"
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "tformer.cli.train", f"experiment={recipe}", f"hydra.run.dir={run_dir}",
               "trainer.enable_progress_bar=false", *overrides]
    (run_dir / "command.txt").write_text(" ".join(command) + "\n")
    log = (run_dir / "train.log").open("w")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), run_dir


def summarize(tag: str, run_dir: Path, code: int, minutes: float) -> dict:
    metrics_file = run_dir / "metrics.json"
    test = json.loads(metrics_file.read_text()).get("test", {}) if metrics_file.exists() else {}
    rows = curve(run_dir)
    best = {}
    for row in rows:
        for key, value in row.items():
            if key.startswith("val/"):
                better = min if key.endswith("loss") else max
                best[key] = better(best.get(key, value), value)
    summary = {"tag": tag, "exit": code, "minutes": round(minutes, 1), "updates": rows[-1]["step"] if rows else 0,
               "test": test, "best": best, "curve": rows}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--variant", action="append", required=True, help="TAG=OVERRIDES (repeat)")
    parser.add_argument("--override", action="append", default=[], help="a Hydra override for every variant")
    parser.add_argument("--jobs", type=int, default=2, help="variants trained at once")
    args = parser.parse_args()
    variants = [parse_variant(text) for text in args.variant]
    pending, running, done = list(variants), {}, []
    while pending or running:
        while pending and len(running) < args.jobs:
            tag, overrides = pending.pop(0)
            process, run_dir = start(args.recipe, tag, [*args.override, *overrides])
            running[tag] = (process, run_dir, time.time())
        for tag, (process, run_dir, started) in list(running.items()):
            if process.poll() is not None:
                del running[tag]
                done.append(summarize(tag, run_dir, process.returncode, (time.time() - started) / 60))
                print(f"{tag}: exit {process.returncode}, {done[-1]['test']}", flush=True)
        time.sleep(2)
    print("| variant | updates | test | best validation | minutes |\n|---|---|---|---|---|")
    for s in sorted(done, key=lambda s: s["tag"]):
        test = ", ".join(f"{k} {v:.2f}" for k, v in sorted(s["test"].items()))
        best = ", ".join(f"{k} {v:.2f}" for k, v in sorted(s["best"].items()))
        print(f"| {s['tag']} | {s['updates']} | {test} | {best} | {s['minutes']} |")
    if any(s["exit"] for s in done):
        sys.exit(1)


if __name__ == "__main__":
    main()
