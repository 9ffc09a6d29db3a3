"""Faster training steps, each switch off against on in one process: fused or foreach AdamW,
activation checkpointing, chunked cross entropy, torch.compile of the layers or the whole core.

    python -m benchmarks.speed_steps [--device cpu|cuda] [--quick] [--threads N] [--repeats N]
        [--only adamw,checkpoint,chunked,compile] [--shape d_model=128,n_layers=2,batch=16,chunk_size=128]

Every line times whole training steps of a ``TranslationTask`` (source and target embeddings, the
core, the tied output layer, its label-smoothed cross entropy, backward, AdamW) with the switch
off and on, interleaved (``_timing.compare``), and gives the speed ratio off / on (above 1: the
switch is faster) and the bytes the step saves for backward (``tformer.saved_tensors``; on CUDA
also the step's peak allocated memory). Both sides of a line start from the same weights. A
compiled line also gives the compile time: its first step less a compiled step's median.
"""

if __name__ == "__main__" and not __package__:  # `python benchmarks/speed_steps.py`: run it as the module
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "-m", "benchmarks.speed_steps", *sys.argv[1:]]
    raise SystemExit(subprocess.call(command, cwd=Path(__file__).resolve().parents[1]))

import argparse
import os
import time
from dataclasses import dataclass, replace
from typing import Callable

import torch

from tformer.compiling import compile_core
from tformer.core import EncoderDecoder
from tformer.saved_tensors import SavedBytes
from tformer.tasks import TranslationTask
from tformer.tasks.objectives import CrossEntropy
from tformer.tasks.optimizers import implementation
from tformer.tokenizers import Batch
from tformer.tokenizers.text import TextCharTokenizer

from ._timing import compare, synchronize

__all__ = ["StepShape", "Line", "build_task", "build_batch", "train_step", "COMPARISONS", "main"]


@dataclass
class StepShape:
    """A small translation model and batch; ``large_vocab`` is the chunked cross entropy's vocabulary."""

    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 3  # encoder and decoder each
    d_ff: int = 1024
    dropout: float = 0.1
    vocab: int = 8000
    large_vocab: int = 32000
    chunk_size: int = 1024
    batch: int = 32
    src_len: int = 32
    tgt_len: int = 32


QUICK = StepShape(d_model=32, n_heads=2, n_layers=1, d_ff=64, vocab=300, large_vocab=2000, chunk_size=16,
                  batch=4, src_len=9, tgt_len=7)


@dataclass
class Line:
    """One switch: median seconds per step off and on, bytes saved for backward off and on."""

    name: str
    off: float
    on: float
    saved_off: int | None = None
    saved_on: int | None = None
    peak_off: int | None = None
    peak_on: int | None = None
    compile_seconds: float | None = None

    @property
    def speed(self) -> float:
        return self.off / self.on


def _text(vocab: int, d_model: int, dropout: float) -> TextCharTokenizer:
    alphabet = "".join(chr(0x20000 + i) for i in range(vocab - 4))  # CJK ideographs: NFC leaves them alone
    return TextCharTokenizer(d_model, alphabet=alphabet, dropout=dropout)


def build_task(shape: StepShape, device: str, vocab: int | None = None, checkpoint_activations: bool = False,
               chunk_size: int | None = None) -> TranslationTask:
    """A translation task of ``shape``, target vocabulary ``vocab`` (default ``shape.vocab``); the
    same weights on every call."""
    torch.manual_seed(0)
    s = shape
    core = EncoderDecoder(s.d_model, s.n_heads, s.n_layers, s.n_layers, s.d_ff, s.dropout,
                          checkpoint_activations=checkpoint_activations)
    fields = {"source": _text(s.vocab, s.d_model, s.dropout), "target": _text(vocab or s.vocab, s.d_model, s.dropout)}
    objectives = {"cross_entropy": CrossEntropy(label_smoothing=0.1, chunk_size=chunk_size)}
    return TranslationTask(fields, core, objectives=objectives, val_decode=False).to(device).train()


def build_batch(shape: StepShape, device: str, vocab: int | None = None) -> dict[str, Batch]:
    """Random ids, right-padded, lengths from half to full (the longest item sets the batch length)."""
    g = torch.Generator().manual_seed(1)

    def field(length: int, size: int) -> Batch:
        lengths = torch.randint(max(1, length // 2), length + 1, (shape.batch,), generator=g)
        lengths[0] = length
        return Batch(torch.randint(4, size, (shape.batch, length), generator=g), lengths).to(device)

    return {"source": field(shape.src_len, shape.vocab), "target": field(shape.tgt_len, vocab or shape.vocab)}


def _adamw(task: TranslationTask, **choice) -> torch.optim.Optimizer:
    return torch.optim.AdamW(task.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.05, **choice)


def train_step(task: TranslationTask, batch: dict[str, Batch],
               optimizer: torch.optim.Optimizer) -> Callable[[], torch.Tensor]:
    """One update: the task's loss, backward, the optimizer's step."""

    def step() -> torch.Tensor:
        loss = task.loss(batch)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _saved(task: TranslationTask, batch: dict[str, Batch]) -> int:
    with SavedBytes(task.parameters()) as saved:
        task.loss(batch)
    return saved.bytes


def _peak(step: Callable[[], object], device: str) -> int | None:
    """Peak allocated CUDA memory during ``step`` above what was allocated before it; None on a CPU."""
    if torch.device(device).type != "cuda":
        return None
    synchronize(device)
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    synchronize(device)
    return torch.cuda.max_memory_allocated() - before


def adamw_lines(shape: StepShape, device: str, repeats: int) -> list[Line]:
    """AdamW foreach and fused against torch's for-loop: whole steps, and the optimizer step alone."""
    task, batch = build_task(shape, device), build_batch(shape, device)
    choices = ({"foreach": False}, {"foreach": True}, {"fused": True})
    loop, foreach, fused = (_adamw(task, **choice) for choice in choices)
    lines = []
    for name, optimizer in (("foreach", foreach), ("fused", fused)):
        off, on = compare(train_step(task, batch, loop), train_step(task, batch, optimizer), repeats, device=device)
        lines.append(Line(f"AdamW {name} vs for-loop, whole step", off, on))
    for name, optimizer in (("foreach", foreach), ("fused", fused)):  # the gradients of the last step stay
        off, on = compare(loop.step, optimizer.step, repeats * 3, device=device)
        lines.append(Line(f"AdamW {name} vs for-loop, optimizer step alone", off, on))
    return lines


def checkpoint_lines(shape: StepShape, device: str, repeats: int) -> list[Line]:
    """Activation checkpointing of every core layer off and on."""
    batch = build_batch(shape, device)
    tasks = [build_task(shape, device, checkpoint_activations=on) for on in (False, True)]
    name = f"checkpoint_activations ({shape.n_layers}+{shape.n_layers} layers)"
    return [_line(name, tasks, batch, device, repeats)]


def chunked_lines(shape: StepShape, device: str, repeats: int) -> list[Line]:
    """Cross entropy over the whole logits against chunks of ``chunk_size`` positions, vocabulary ``large_vocab``."""
    batch = build_batch(shape, device, shape.large_vocab)
    tasks = [build_task(shape, device, shape.large_vocab, chunk_size=c) for c in (None, shape.chunk_size)]
    name = f"cross_entropy.chunk_size={shape.chunk_size} (vocab {shape.large_vocab})"
    return [_line(name, tasks, batch, device, repeats)]


def _line(name: str, tasks: list[TranslationTask], batch: dict[str, Batch], device: str, repeats: int) -> Line:
    steps = [train_step(task, batch, _adamw(task, **implementation(device))) for task in tasks]
    off, on = compare(steps[0], steps[1], repeats, device=device)
    saved, peaks = [_saved(task, batch) for task in tasks], [_peak(step, device) for step in steps]
    return Line(name, off, on, *saved, *peaks)


def compile_lines(shape: StepShape, device: str, repeats: int) -> list[Line]:
    """Eager against ``compile=regional`` (each layer) and ``compile=whole`` (the core)."""
    batch = build_batch(shape, device)
    eager = build_task(shape, device)
    eager_step = train_step(eager, batch, _adamw(eager, **implementation(device)))
    lines = []
    for how in ("regional", "whole"):
        task = build_task(shape, device)
        compile_core(task.core, how)
        step = train_step(task, batch, _adamw(task, **implementation(device)))
        synchronize(device)
        start = time.perf_counter()
        step()  # compiles
        synchronize(device)
        first = time.perf_counter() - start
        off, on = compare(eager_step, step, repeats, device=device)
        lines.append(Line(f"compile={how}", off, on, compile_seconds=first - on))
    return lines


COMPARISONS = {"adamw": adamw_lines, "checkpoint": checkpoint_lines, "chunked": chunked_lines, "compile": compile_lines}


def _mib(n: int | None) -> str:
    return "" if n is None else f"{n / 2**20:.2f}"


def print_line(line: Line) -> None:
    memory = ""
    if line.saved_off is not None:
        memory += f"  saved {_mib(line.saved_off):>8} -> {_mib(line.saved_on):>8} MiB"
    if line.peak_off is not None:
        memory += f"  peak {_mib(line.peak_off)} -> {_mib(line.peak_on)} MiB"
    if line.compile_seconds is not None:
        memory += f"  compile {line.compile_seconds:.1f} s"
    print(f"{line.name:<56} {line.off * 1e3:>9.2f} {line.on * 1e3:>9.2f} {line.speed:>6.2f}x{memory}", flush=True)


def main(argv: list[str] | None = None) -> list[Line]:
    parser = argparse.ArgumentParser(description="faster-step switches off against on (ratios, same process)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 2 repeats: a smoke test")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per line (default 10)")
    parser.add_argument("--only", default=",".join(COMPARISONS),
                        help=f"comma-separated subset of {','.join(COMPARISONS)}")
    parser.add_argument("--shape", default="", help="StepShape fields, e.g. d_model=128,n_layers=2,batch=16")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = QUICK if args.quick else StepShape()
    fields = dict(item.split("=") for item in args.shape.split(",") if item)
    shape = replace(shape, **{k: type(getattr(shape, k))(v) for k, v in fields.items()})
    repeats = args.repeats or (2 if args.quick else 10)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := [n for n in names if n not in COMPARISONS]:
        parser.error(f"unknown comparison(s) {unknown}; choose from {', '.join(COMPARISONS)}")
    print(f"torch {torch.__version__}  device {args.device}  threads {torch.get_num_threads()}  {shape}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'switch (off -> on)':<56} {'off ms':>9} {'on ms':>9} {'speed':>7}  bytes saved for backward")
    lines = []
    for name in names:
        for line in COMPARISONS[name](shape, args.device, repeats):
            print_line(line)
            lines.append(line)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return lines


if __name__ == "__main__":
    main()
