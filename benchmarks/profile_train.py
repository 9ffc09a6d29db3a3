"""Where a translation training step spends its time: torch.profiler, ours and nn.Transformer.

    python -m benchmarks.profile_train [--threads 1] [--steps 5] [--rows 25] [--core-only]

Prints each model's operators by self CPU time and the share of matrix products (mm, addmm,
bmm), against the floor that the step's matrix-product FLOPs set at a measured GEMM rate.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from .speed_train import TranslationShape, core_train_step, translation_batch, translation_models, translation_train_step

MATMULS = ("aten::mm", "aten::addmm", "aten::bmm")


def gemm_rate(n: int = 1024, repeats: int = 10) -> float:
    """FLOP/s of an n x n x n float32 matrix product on this machine, now (best of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def profile_step(step, steps: int) -> tuple[list, float]:
    """(operator averages, wall seconds per step) of ``steps`` profiled steps after two warm-ups."""
    step()
    step()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return prof.key_averages(), (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--core-only", action="store_true", help="the core alone, no vocabulary")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = TranslationShape()
    make_step = core_train_step if args.core_only else translation_train_step
    ours, peer = translation_models(shape)
    batch = translation_batch(shape)
    rate = gemm_rate()
    print(f"threads {torch.get_num_threads()}, 1024^3 GEMM {rate / 1e9:.0f} GFLOP/s")
    for name, model in (("tformer", ours), ("nn.Transformer", peer)):
        averages, seconds = profile_step(make_step(model, batch), args.steps)
        total = sum(e.self_cpu_time_total for e in averages)
        matmul = sum(e.self_cpu_time_total for e in averages if e.key in MATMULS)
        print(f"\n== {name}: {seconds * 1e3:.1f} ms/step profiled; matrix products {matmul / total:.0%} of operator time")
        print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
