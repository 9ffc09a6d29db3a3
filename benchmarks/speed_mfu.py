"""bf16 training throughput of the paper's base model, with model FLOP utilization (MFU).

    python -m benchmarks.speed_mfu --device cuda [--peak-tflops 989] [--batch 64] [--length 128]

Model FLOPs per step = 6 x (encoder parameters x source tokens + (decoder + output projection)
parameters x target tokens): the 6 N D rule with each parameter counted for the tokens it acts on;
attention's score FLOPs and the embedding lookups are left out, so MFU is slightly understated.
MFU = model FLOPs per second / peak. The default peak is an H100 SXM's dense bf16 (989 TFLOP/s).
The count is ``tformer.flops``: the one ``tformer-train`` logs as ``train/tflops`` and ``train/mfu``.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from tformer.core import EncoderDecoder
from tformer.flops import flop_parameters, training_flops

from ._timing import synchronize
from .speed_train import Seq2Seq, TranslationShape, adam, translation_batch

__all__ = ["base_model", "model_flops", "measure"]


def base_model(shape: TranslationShape) -> Seq2Seq:
    """The paper's base Transformer (512, 8 heads, 6+6, 2048, dropout 0.1) with shared embeddings."""
    core = EncoderDecoder(shape.d_model, shape.n_heads, shape.n_layers, shape.n_layers, shape.d_ff, shape.dropout)
    return Seq2Seq(core, shape.d_model, shape.vocab, target_pad_mask=False)


def model_flops(model: Seq2Seq, src_tokens: int, tgt_tokens: int) -> float:
    """The library's count (``tformer.flops``), as ``tformer-train`` logs it in ``train/tflops``."""
    encoder, decoder = flop_parameters(model.core.encoder), flop_parameters(model.core.decoder, model.project)
    return float(training_flops((encoder, src_tokens), (decoder, tgt_tokens)))


def measure(shape: TranslationShape, device: str, steps: int, warmup: int, compile: bool = False) -> tuple[float, float]:
    """(seconds per step, model FLOPs per step) of bf16-autocast training steps."""
    torch.manual_seed(0)
    model = base_model(shape).to(device).train()
    optimizer = adam(model)
    src, tgt, src_pad, tgt_pad, labels = translation_batch(shape, device)
    forward = torch.compile(model) if compile else model

    def step() -> None:
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            logits = forward(src, tgt, src_pad, tgt_pad)
        loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    return seconds, model_flops(model, src.numel(), tgt.numel())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="bf16 training throughput and MFU of the paper's base model")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="peak dense bf16 TFLOP/s (H100 SXM: 989)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=128, help="source and target tokens per sentence")
    parser.add_argument("--vocab", type=int, default=37000, help="shared BPE vocabulary (the paper: about 37000)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--quick", action="store_true", help="a tiny model, for checking that the script runs")
    args = parser.parse_args(argv)
    shape = TranslationShape(
        d_model=512, n_heads=8, n_layers=6, d_ff=2048, dropout=0.1, vocab=args.vocab,
        batch=args.batch, src_len=args.length, tgt_len=args.length,
    )
    if args.quick:
        shape = TranslationShape(d_model=32, n_heads=2, n_layers=1, d_ff=64, vocab=300, batch=4, src_len=8, tgt_len=8)
        args.steps, args.warmup = 2, 1
    seconds, flops = measure(shape, args.device, args.steps, args.warmup, args.compile)
    tokens = shape.batch * (shape.src_len + shape.tgt_len)
    achieved = flops / seconds
    print(
        f"base model bf16 on {args.device}: {seconds * 1e3:.1f} ms/step, {tokens / seconds:,.0f} tokens/s "
        f"(source + target), {achieved / 1e12:.1f} TFLOP/s model FLOPs, "
        f"MFU {achieved / (args.peak_tflops * 1e12):.1%} of {args.peak_tflops:g} TFLOP/s"
    )


if __name__ == "__main__":
    main()
