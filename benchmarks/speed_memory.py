"""Peak memory of one translation training step, tformer's core against ``torch.nn.Transformer``.

Each model runs in a fresh process (``python -m benchmarks.speed_memory --model ours``), so that
neither sees the other's heap. The process builds the model, batch and Adam, runs one warm-up
step (Adam's state now exists), frees the gradients and hands freed heap pages back to the
system (``malloc_trim``). What a second step adds on top is what is reported:

- CPU: peak resident set size (``VmHWM``, reset through ``/proc/self/clear_refs``) minus the
  resident size before the step. Linux and glibc only; pages the allocator keeps count as used.
- CUDA: ``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` before the step.

Both include activations, gradients and temporaries; both exclude weights and Adam's state,
which are the same for both models.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from .speed_train import TranslationShape, translation_batch, translation_models, translation_train_step

__all__ = ["step_peak_bytes", "measure_in_subprocess"]

ROOT = Path(__file__).resolve().parents[1]


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``: the peak, which starts afresh with each program)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _release_freed_memory() -> None:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def step_peak_bytes(which: str, shape: TranslationShape, device: str = "cpu") -> int:
    """Bytes one training step adds at its peak, measured in this process (call it in a fresh one)."""
    ours, peer = translation_models(shape, device)
    model = ours if which == "ours" else peer
    del ours, peer
    step = translation_train_step(model, translation_batch(shape, device))
    step()
    for p in model.parameters():
        p.grad = None
    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    _release_freed_memory()
    before = status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    step()
    return (status_kib("VmHWM") - before) * 1024


def measure_in_subprocess(which: str, shape: TranslationShape, device: str = "cpu", threads: int | None = None) -> int:
    """Run :func:`step_peak_bytes` in a fresh Python process and return its answer."""
    command = [sys.executable, "-m", "benchmarks.speed_memory", "--model", which, "--device", device]
    command += ["--shape", json.dumps(asdict(shape))] + (["--threads", str(threads)] if threads else [])
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory measurement of {which} failed:\n{result.stderr[-2000:]}")
    return int(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["ours", "peer"], required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shape", default="{}", help="TranslationShape fields as JSON")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(step_peak_bytes(args.model, TranslationShape(**json.loads(args.shape)), args.device))


if __name__ == "__main__":
    main()
