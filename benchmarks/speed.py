"""Speed benchmarks of tformer against its peers, each a ratio measured in this process.

    python -m benchmarks.speed [--quick] [--device cuda] [--threads N] [--only train,bf16,vit,decode,cache,memory]

``--quick`` runs every benchmark on tiny shapes with few repeats: a smoke test, not a measurement.
"""

if __name__ == "__main__" and not __package__:  # `python benchmarks/speed.py`: run it as the module
    import subprocess
    import sys
    from pathlib import Path

    command = [sys.executable, "-m", "benchmarks.speed", *sys.argv[1:]]
    raise SystemExit(subprocess.call(command, cwd=Path(__file__).resolve().parents[1]))

import argparse
import datetime
import platform
from dataclasses import dataclass, field
from typing import Callable

import torch

from ._timing import Result, compare, table_header, table_line
from .quality import cpu_models
from .speed_decode import DecodeShape, TformerTranslator, generators, step_times
from .speed_memory import measure_in_subprocess
from .speed_train import (
    TranslationShape,
    VitShape,
    core_train_step,
    translation_batch,
    translation_models,
    translation_train_step,
    vit_models,
    vit_train_step,
)

__all__ = ["Settings", "BENCHMARKS", "run", "main"]


@dataclass
class Settings:
    """Shapes and repeats of one run; ``quick()`` gives tiny ones for a smoke test."""

    device: str = "cpu"
    repeats: int = 10
    translation: TranslationShape = field(default_factory=TranslationShape)
    vit: VitShape = field(default_factory=VitShape)
    decode: DecodeShape = field(default_factory=DecodeShape)
    beam_batch: int = 16
    cache_positions: tuple[int, int] = (16, 256)
    cache_steps: int = 8

    @classmethod
    def quick(cls, device: str = "cpu") -> "Settings":
        return cls(
            device=device,
            repeats=2,
            translation=TranslationShape(
                d_model=32, n_heads=2, n_layers=1, d_ff=64, vocab=300, batch=4, src_len=9, tgt_len=7
            ),
            vit=VitShape(image_size=16, patch_size=8, d_model=32, depth=1, n_heads=2, batch=4),
            decode=DecodeShape(d_model=32, n_heads=2, n_layers=1, d_ff=64, vocab=300, src_len=6, new_tokens=4),
            beam_batch=2,
            cache_positions=(2, 12),
            cache_steps=2,
        )


def translation_results(s: Settings) -> list[Result]:
    """Training step (forward + backward + Adam) of EncoderDecoder against nn.Transformer."""
    shape = s.translation
    ours, peer = translation_models(shape, s.device)
    batch = translation_batch(shape, s.device)
    name = f"{shape.n_layers}+{shape.n_layers} layers d={shape.d_model}, {shape.batch}x{shape.src_len}x{shape.tgt_len}"
    core = compare(core_train_step(ours, batch), core_train_step(peer, batch), s.repeats, device=s.device)
    full = compare(translation_train_step(ours, batch), translation_train_step(peer, batch), s.repeats, device=s.device)
    return [
        _time_result(f"train step, core only ({name})", core, 1.2, "torch.nn.Transformer"),
        _time_result(f"train step + vocab {shape.vocab} embed/proj", full, 1.2, "torch.nn.Transformer"),
    ]


def bf16_results(s: Settings) -> list[Result]:
    """The same training step under bf16 autocast (``trainer.precision=bf16-mixed``): against our
    float32 step, and against nn.Transformer under the same autocast."""
    shape = s.translation
    ours, peer = translation_models(shape, s.device)
    batch = translation_batch(shape, s.device)
    ours_bf16 = _autocast(translation_train_step(ours, batch), s.device)
    against_fp32 = compare(ours_bf16, translation_train_step(ours, batch), s.repeats, device=s.device)
    against_peer = compare(ours_bf16, _autocast(translation_train_step(peer, batch), s.device), s.repeats, device=s.device)
    return [
        _time_result(f"train step + vocab {shape.vocab}, bf16 autocast", against_fp32, 1.0, "tformer in float32"),
        _time_result(f"train step + vocab {shape.vocab}, both bf16 autocast", against_peer, 1.2, "torch.nn.Transformer"),
    ]


def _autocast(step: Callable[[], object], device: str) -> Callable[[], object]:
    def run() -> object:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            return step()

    return run


def vit_result(s: Settings) -> list[Result]:
    """ViT classification training step against timm's VisionTransformer (weights imported from it)."""
    shape = s.vit
    ours, peer = vit_models(shape, s.device)
    times = compare(vit_train_step(ours, shape, s.device), vit_train_step(peer, shape, s.device), s.repeats, device=s.device)
    name = f"ViT train step (d={shape.d_model}, depth {shape.depth}, batch {shape.batch})"
    return [_time_result(name, times, 1.0, "timm VisionTransformer")]


def decode_results(s: Settings) -> list[Result]:
    """Tokens/s of greedy decoding (batch 1) and beam 4 (batch ``beam_batch``) against Marian's generate."""
    results = []
    for batch, beam, target in ((1, 1, 2.0), (s.beam_batch, 4, 1.5)):
        ours, peer = generators(s.decode, batch, beam, s.device)
        times = compare(ours, peer, max(2, s.repeats // 2), warmup=1, device=s.device)
        tokens = batch * s.decode.new_tokens
        ours_rate, peer_rate = tokens / times[0], tokens / times[1]
        name = f"{'greedy' if beam == 1 else f'beam {beam}'}, batch {batch}, {s.decode.new_tokens} tokens"
        ratio = ours_rate / peer_rate
        results.append(Result(name, ours_rate, peer_rate, "tok/s", ratio, target, "HF MarianMTModel.generate"))
    return results


def cache_result(s: Settings) -> list[Result]:
    """Per-token decoding time late in a sequence against early in it (the KV cache at work)."""
    torch.manual_seed(0)
    model = TformerTranslator(s.decode).to(s.device).eval()
    early, late = s.cache_positions
    early_time, late_time = step_times(model, early, late, s.cache_steps, max(2, s.repeats // 2))
    name = f"decode step at token {late} vs {early} (batch 1)"
    ratio = late_time / early_time
    return [Result(name, late_time * 1e3, early_time * 1e3, "ms", ratio, 1.5, f"tformer at token {early}", lower_is_better=True)]


def memory_result(s: Settings) -> list[Result]:
    """Peak memory a training step adds, each model in a fresh process."""
    threads = torch.get_num_threads()
    ours = measure_in_subprocess("ours", s.translation, s.device, threads)
    peer = measure_in_subprocess("peer", s.translation, s.device, threads)
    ratio = peer / ours if ours else float("inf")
    name = "train step peak memory (+vocab, fresh process)"
    return [Result(name, ours / 2**20, peer / 2**20, "MiB", ratio, 1.0, "torch.nn.Transformer")]


def _time_result(name: str, times: tuple[float, float], target: float, peer_name: str) -> Result:
    ours, peer = times
    return Result(name, ours * 1e3, peer * 1e3, "ms", peer / ours, target, peer_name)


BENCHMARKS = {
    "train": translation_results,
    "bf16": bf16_results,
    "vit": vit_result,
    "decode": decode_results,
    "cache": cache_result,
    "memory": memory_result,
}


def run(names: list[str], settings: Settings) -> list[Result]:
    """Run the named benchmarks, printing each table line as it is done; return all results."""
    print(table_header())
    results = []
    for name in names:
        for result in BENCHMARKS[name](settings):
            print(table_line(result), flush=True)
            results.append(result)
    return results


def describe_machine(device: str) -> str:
    names = cpu_models()
    cpu = f"{names[0]} x{len(names)}" if names else platform.processor() or platform.machine()
    gpu = f", {torch.cuda.get_device_name()}" if device == "cuda" else ""
    return (
        f"{datetime.date.today()}  torch {torch.__version__}  device {device}{gpu}  CPU {cpu}  "
        f"threads {torch.get_num_threads()}  CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description="tformer speed benchmarks against peers (ratios, same process)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 2 repeats: a smoke test (< 30 s)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; 1 with --quick)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per benchmark (default 10)")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    if args.threads or args.quick:
        torch.set_num_threads(args.threads or 1)  # tiny ops on 2 threads stall on a busy machine
    settings = Settings.quick(args.device) if args.quick else Settings(device=args.device)
    if args.repeats:
        settings.repeats = args.repeats
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    print(describe_machine(args.device) + ("  [--quick: smoke test, not a measurement]" if args.quick else ""))
    results = run(names, settings)
    print(f"{sum(r.passed for r in results)}/{len(results)} targets met")
    return results


if __name__ == "__main__":
    main()
