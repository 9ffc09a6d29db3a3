"""Timing helpers shared by the speed benchmarks: interleaved A/B timing and the result table."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["Result", "compare", "print_table", "table_header", "table_line", "synchronize", "time_once"]


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work so that wall-clock time covers it (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_once(fn: Callable[[], object], device: torch.device | str) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def compare(
    ours: Callable[[], object],
    peer: Callable[[], object],
    repeats: int = 10,
    warmup: int = 2,
    device: torch.device | str = "cpu",
) -> tuple[float, float]:
    """Median seconds per call of ``ours`` and ``peer``, timed in the same process, interleaved.

    The order alternates each round (AB, BA, AB, ...), so that load from other processes on a
    shared machine falls on both sides alike; ``warmup`` untimed rounds come first.

    Returns:
        (ours, peer) median seconds.
    """
    for _ in range(warmup):
        ours()
        peer()
    ours_times, peer_times = [], []
    for i in range(repeats):
        pairs = [(ours, ours_times), (peer, peer_times)]
        for fn, times in pairs if i % 2 == 0 else reversed(pairs):
            times.append(time_once(fn, device))
    return statistics.median(ours_times), statistics.median(peer_times)


@dataclass
class Result:
    """One benchmark line. ``ratio`` is ours against the peer, oriented so that higher is better,
    except where ``lower_is_better`` (e.g. a slowdown that must stay small)."""

    name: str
    ours: float
    peer: float
    unit: str
    ratio: float
    target: float
    peer_name: str = ""
    lower_is_better: bool = False

    @property
    def passed(self) -> bool:
        return self.ratio <= self.target if self.lower_is_better else self.ratio >= self.target


def table_header() -> str:
    header = f"{'benchmark':<46} {'ours':>14} {'peer':>14} {'ratio':>7} {'target':>7}  result  peer"
    return header + "\n" + "-" * len(header)


def table_line(r: Result) -> str:
    target = f"{'<=' if r.lower_is_better else '>='}{r.target:.2f}x"
    line = f"{r.name:<46} {r.ours:>8.4g} {r.unit:<5} {r.peer:>8.4g} {r.unit:<5} {r.ratio:>6.2f}x {target:>7}"
    return f"{line}  {'PASS' if r.passed else 'MISS':<6}  {r.peer_name}"


def print_table(results: list[Result]) -> None:
    print(table_header())
    for r in results:
        print(table_line(r), flush=True)
