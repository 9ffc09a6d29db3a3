"""tformer's decoder-only language model against Hugging Face's ``GPT2LMHeadModel``, trained on the
same fortunes batches, with the same BPE tokenizer, dimensions, optimizer, schedule and updates.

    python -m benchmarks.lm_peer                  # the lm_fortunes recipe's shape, 1,000 updates, bf16
    python -m benchmarks.lm_peer --updates 200 --quick

Both models take turns on each batch in one process (ours then the peer on even updates, the
other way on odd ones), so a busy machine slows both alike; the speed ratio is the peer's median
seconds per update over ours. The validation loss (token cross entropy, nats) of both is measured
on the same held-out rows every ``--eval-every`` updates. Results go to
``benchmarks/runs/lm_peer/summary.json`` (``--out``) and are printed as a table.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tformer.core import Decoder
from tformer.data import fortunes
from tformer.schedules import WarmupCosine
from tformer.tokenizers import TextBpeTokenizer

RUNS = Path(__file__).resolve().parent / "runs" / "lm_peer"


class Ours(nn.Module):
    """The language model task's modules: BPE embedding (+ learned positions, tied output) and a
    decoder-only stack."""

    def __init__(self, text: TextBpeTokenizer, args: argparse.Namespace):
        super().__init__()
        self.text = text
        self.core = Decoder(args.d_model, args.heads, args.layers, args.d_ff, args.dropout, norm_first=True,
                            activation="gelu", cross_attention=False)

    def forward(self, ids: Tensor) -> Tensor:
        x, _ = self.text(ids, torch.full((ids.size(0),), ids.size(1)))
        return self.text.project(self.core(x))  # (B, T, V)


def peer(vocab: int, args: argparse.Namespace) -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=vocab, n_positions=args.context, n_embd=args.d_model, n_layer=args.layers,
                        n_head=args.heads, n_inner=args.d_ff, activation_function="gelu", resid_pdrop=args.dropout,
                        embd_pdrop=args.dropout, attn_pdrop=args.dropout, layer_norm_epsilon=1e-5,
                        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
    config._attn_implementation = "sdpa"
    return GPT2LMHeadModel(config)


def rows(text: TextBpeTokenizer, entries: list[str], context: int) -> Tensor:
    """The entries as one stream of tokens, each followed by <eos>, cut into rows of context + 1."""
    stream = []
    for entry in entries:
        stream += text.prepare(entry).tolist() + [text.eos_id]
    n = len(stream) // (context + 1)
    return torch.tensor(stream[: n * (context + 1)]).view(n, context + 1)


def loss_of(model: nn.Module, batch: Tensor, is_peer: bool) -> Tensor:
    inputs, gold = batch[:, :-1], batch[:, 1:]
    logits = model(inputs).logits if is_peer else model(inputs)
    return F.cross_entropy(logits.flatten(0, 1).float(), gold.flatten())


@torch.no_grad()
def evaluate(model: nn.Module, valid: Tensor, batch_size: int, is_peer: bool, precision: str) -> float:
    model.eval()
    total, n = 0.0, 0
    with _autocast(precision):
        for start in range(0, len(valid), batch_size):
            batch = valid[start : start + batch_size]
            total += float(loss_of(model, batch, is_peer)) * batch.numel()
            n += batch.numel()
    model.train()
    return total / n


def _autocast(precision: str):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("updates", 1000), ("batch", 32), ("context", 128), ("vocab", 4000), ("d-model", 256),
                          ("layers", 4), ("heads", 4), ("d-ff", 1024), ("eval-every", 100), ("seed", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--embedding-std", type=float, default=0.02, help="ours; the recipe's (GPT-2's)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="bf16", help="bf16 autocast, as the recipe on a CPU with native bf16")
    parser.add_argument("--quick", action="store_true", help="a tiny model, for the smoke test")
    parser.add_argument("--out", type=Path, default=RUNS, help="folder of summary.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.d_model, args.layers, args.heads, args.d_ff, args.context, args.vocab = 32, 1, 2, 64, 32, 300
    torch.manual_seed(args.seed)
    text = TextBpeTokenizer(d_model=args.d_model, vocab_size=args.vocab, positions="learned", max_len=args.context,
                            dropout=args.dropout, embedding_std=args.embedding_std)
    train_entries = list(fortunes("train").column("text"))
    text.fit(train_entries)
    train, valid = rows(text, train_entries, args.context), rows(text, list(fortunes("valid").column("text")), args.context)
    models = {"ours": Ours(text, args), "peer": peer(text.vocab_size, args)}
    optimizers = {k: torch.optim.AdamW(m.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01) for k, m in models.items()}
    schedule = WarmupCosine(0.05, args.updates, min_ratio=0.01)
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    curve = []
    order = torch.Generator().manual_seed(args.seed)
    for update in range(1, args.updates + 1):
        batch = train[torch.randint(len(train), (args.batch,), generator=order)]
        names = ("ours", "peer") if update % 2 == 0 else ("peer", "ours")
        for name in names:
            for group in optimizers[name].param_groups:
                group["lr"] = args.lr * schedule(update - 1)
            start = time.perf_counter()
            with _autocast(args.precision):
                loss = loss_of(models[name], batch, name == "peer")
            loss.backward()
            optimizers[name].step()
            optimizers[name].zero_grad(set_to_none=True)
            times[name].append(time.perf_counter() - start)
        if update % args.eval_every == 0 or update == args.updates:
            point = {"update": update, **{k: evaluate(m, valid, args.batch, k == "peer", args.precision) for k, m in models.items()}}
            curve.append(point)
            print(f"update {update}: validation loss ours {point['ours']:.4f}, peer {point['peer']:.4f}", flush=True)
    speed = statistics.median(times["peer"][10:] or times["peer"]) / statistics.median(times["ours"][10:] or times["ours"])
    summary = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "curve": curve, "seconds_per_update": {k: statistics.median(v) for k, v in times.items()},
               "speed_ratio": speed, "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()},
               "tokens": {"train": train.numel(), "valid": valid.numel()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    last = curve[-1]
    print(f"| updates | val loss ours | val loss GPT2LMHeadModel | ppl ours | ppl peer | speed ours/peer |")
    print(f"| {last['update']} | {last['ours']:.4f} | {last['peer']:.4f} | {math.exp(last['ours']):.1f} | "
          f"{math.exp(last['peer']):.1f} | {speed:.2f}x |")


if __name__ == "__main__":
    main()
