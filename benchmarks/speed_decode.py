"""Decoding speed: tformer's cached greedy and beam search against Hugging Face ``MarianMTModel.generate``.

Both models have the same shape (width, heads, layers, feed-forward, vocabulary), random weights,
post-norm layers with ReLU, scaled embeddings, sinusoidal positions and a tied output projection.
Neither can stop early: EOS is an id that no step may pick, so both generate exactly ``new_tokens``.

Run as a script, it times tformer's three caches against each other (and Marian), interleaved:

    python -m benchmarks.speed_decode [--device cpu|cuda] [--batch 1] [--beam 1] [--threads N]
        [--repeats 5] [--new-tokens 64] [--no-marian]

growing (``KVCache``, the default), static (``static=True``) and compiled (``compiled=True``: on
CUDA captured as a CUDA graph); the compiled line also gives its compile time (first call less
the median).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import Tensor, nn

from tformer.core import EncoderDecoder, SinusoidalPositions, beam_search, encoder_decoder_decoding, greedy_search

from ._timing import synchronize, time_once

__all__ = [
    "DecodeShape", "TformerTranslator", "marian_model", "tformer_generate", "marian_generate", "step_times", "generators",
    "source",
]

BOS, PAD, EOS = 1, 0, 2


@dataclass
class DecodeShape:
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 3
    d_ff: int = 1024
    vocab: int = 8000
    src_len: int = 32
    new_tokens: int = 64


class TformerTranslator(nn.Module):
    """Embeddings + ``EncoderDecoder`` + tied projection, decoded with tformer's search (no EOS possible)."""

    def __init__(self, shape: DecodeShape):
        super().__init__()
        self.core = EncoderDecoder(shape.d_model, shape.n_heads, shape.n_layers, shape.n_layers, shape.d_ff, dropout=0.1)
        self.embed = nn.Embedding(shape.vocab, shape.d_model)
        self.positions = SinusoidalPositions(shape.d_model)
        self.scale = math.sqrt(shape.d_model)

    def embed_step(self, ids: Tensor, offset: int = 0) -> Tensor:
        return self.positions(self.embed(ids) * self.scale, offset)  # (B, T, d)

    def project(self, h: Tensor) -> Tensor:
        logits = h @ self.embed.weight.T  # (B, T, V)
        logits[..., EOS] = float("-inf")  # as Hugging Face's min_new_tokens does: never stop early
        return logits


@torch.no_grad()
def tformer_generate(model: TformerTranslator, src: Tensor, new_tokens: int, beam_size: int = 1,
                     static: bool = False, compiled: bool = False) -> list[list[int]]:
    memory = model.core.encode(model.embed_step(src))
    decoding = encoder_decoder_decoding(model.core.decoder, memory, None, model.embed_step, model.project, BOS, EOS,
                                        new_tokens, static=static, compiled=compiled)
    if beam_size == 1:
        return greedy_search(decoding)
    return beam_search(decoding, beam_size, alpha=0.6)


def marian_model(shape: DecodeShape) -> nn.Module:
    """A randomly initialized ``MarianMTModel`` of ``shape`` (built locally, nothing downloaded)."""
    from transformers import MarianConfig, MarianMTModel

    config = MarianConfig(
        vocab_size=shape.vocab, decoder_vocab_size=shape.vocab, d_model=shape.d_model,
        encoder_layers=shape.n_layers, decoder_layers=shape.n_layers,
        encoder_attention_heads=shape.n_heads, decoder_attention_heads=shape.n_heads,
        encoder_ffn_dim=shape.d_ff, decoder_ffn_dim=shape.d_ff, activation_function="relu",
        max_position_embeddings=1024, scale_embedding=True, dropout=0.1,
        pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=BOS, forced_eos_token_id=None, bos_token_id=None,
    )
    torch.manual_seed(0)
    return MarianMTModel(config).eval()


@torch.no_grad()
def marian_generate(model: nn.Module, src: Tensor, new_tokens: int, beam_size: int = 1) -> Tensor:
    beam_options = dict(length_penalty=0.6, early_stopping=False) if beam_size > 1 else {}
    return model.generate(
        input_ids=src, attention_mask=torch.ones_like(src), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
        num_beams=beam_size, do_sample=False, **beam_options,
    )


def step_times(model: TformerTranslator, early: int, late: int, steps: int = 8, repeats: int = 5) -> tuple[float, float]:
    """Median seconds per cached step (decoder + projection) after ``early`` and after ``late`` tokens.

    Both windows of ``steps`` steps are timed within the same decoding runs (batch 1), ``repeats`` times.
    """
    device = model.embed.weight.device
    src = torch.randint(3, model.embed.num_embeddings, (1, 32), generator=torch.Generator().manual_seed(4)).to(device)
    early_times, late_times = [], []
    with torch.inference_mode():
        memory = model.core.encode(model.embed_step(src))
        for _ in range(repeats):
            cache = model.core.decoder.init_cache(memory)
            token = torch.full((1, 1), BOS, device=device)
            for t in range(late + steps):
                if t in (early, late):
                    synchronize(device)
                    start = time.perf_counter()
                token = model.project(model.core.decoder.step(model.embed_step(token, t), cache))[:, -1:].argmax(-1)
                if t + 1 in (early + steps, late + steps):
                    synchronize(device)
                    (early_times if t + 1 == early + steps else late_times).append((time.perf_counter() - start) / steps)
    return statistics.median(early_times), statistics.median(late_times)


def source(shape: DecodeShape, batch: int, device: torch.device | str = "cpu") -> Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.randint(3, shape.vocab, (batch, shape.src_len), generator=g).to(device)


def generators(
    shape: DecodeShape, batch: int, beam_size: int, device: torch.device | str = "cpu"
) -> tuple[Callable[[], object], Callable[[], object]]:
    """(ours, peer) callables that each generate ``shape.new_tokens`` tokens for ``batch`` sources."""
    torch.manual_seed(0)
    ours, peer = TformerTranslator(shape).to(device).eval(), marian_model(shape).to(device)
    src = source(shape, batch, device)
    return (
        lambda: tformer_generate(ours, src, shape.new_tokens, beam_size),
        lambda: marian_generate(peer, src, shape.new_tokens, beam_size),
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="tformer's decoding caches (and Marian), tokens per second")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--no-marian", action="store_true", help="leave Hugging Face Marian out")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = replace(DecodeShape(), new_tokens=args.new_tokens)
    torch.manual_seed(0)
    model = TformerTranslator(shape).to(args.device).eval()
    src = source(shape, args.batch, args.device)
    variants = {name: (lambda flags=flags: tformer_generate(model, src, shape.new_tokens, args.beam, **flags))
                for name, flags in (("growing", {}), ("static", {"static": True}), ("compiled", {"compiled": True}))}
    if not args.no_marian:
        peer = marian_model(shape).to(args.device)
        variants["marian"] = lambda: marian_generate(peer, src, shape.new_tokens, args.beam)
    first = {name: time_once(fn, args.device) for name, fn in variants.items()}  # warm-up, compiles
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.repeats):  # interleaved, the order reversed every other round
        for name in (list(variants) if round_ % 2 == 0 else list(reversed(variants))):
            times[name].append(time_once(variants[name], args.device))
    medians = {name: statistics.median(values) for name, values in times.items()}
    tokens = args.batch * shape.new_tokens
    print(f"torch {torch.__version__}  device {args.device}  threads {torch.get_num_threads()}  batch {args.batch}  "
          f"beam {args.beam}  {shape}")
    for name, seconds in medians.items():
        extra = f"  compile {first[name] - seconds:.1f} s" if name == "compiled" else ""
        print(f"{name:<9} {seconds * 1e3:9.1f} ms  {tokens / seconds:9.1f} tok/s  "
              f"{medians['growing'] / seconds:5.2f}x growing{extra}")
    return medians


if __name__ == "__main__":
    main()
