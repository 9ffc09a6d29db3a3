"""The retrieval_de_en recipe's dual encoder against its peers, recall@1/@10 both ways over the
500 test pairs of freedict_de_en, each against all 500:

- Hugging Face ``BertModel`` as the same dual encoder (mean pooling, InfoNCE with a learned
  temperature), of the same shape, on the same batches of the same shared BPE vocabulary, with
  the same optimizer, schedule and number of updates; the two take turns on each batch in one
  process, so a busy machine slows both alike (the speed ratio is the peer's median seconds per
  update over ours);
- with ``--translation CKPT``: the encoder of a ``translation_de_en`` checkpoint, mean-pooled,
  zero-shot (German and English both through its source tokenizer and encoder).

    python -m benchmarks.retrieval_peer --updates 1000 --translation benchmarks/runs/translation_de_en/checkpoints/last.ckpt
    python -m benchmarks.retrieval_peer --updates 4 --quick      # smoke test

Results go to ``benchmarks/runs/retrieval_peer/summary.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import tformer
from tformer.core import Encoder
from tformer.data import RawSubset, freedict_de_en
from tformer.schedules import WarmupCosine
from tformer.tasks.objectives import Contrastive
from tformer.tasks.ranking import ranks_of_pairs, recall_at
from tformer.tasks.retrieval import RetrievalTask
from tformer.tokenizers import Batch, TextBpeTokenizer

RUNS = Path(__file__).resolve().parent / "runs" / "retrieval_peer"
SIDES = ("source", "target")


def batches(text: TextBpeTokenizer, data, max_tokens: int, sort: bool = True) -> list[dict[str, Batch]]:
    """Pairs as batches within the recipe's budget: (longest side) x pairs <= ``max_tokens``."""
    items = [{side: text.prepare(data[i][side]) for side in SIDES} for i in range(len(data))]
    order = sorted(range(len(items)), key=lambda i: max(len(items[i][s]) for s in SIDES)) if sort else range(len(items))
    out, current = [], []
    for i in order:
        size = max(len(items[i][s]) for s in SIDES)
        if current and (len(current) + 1) * size > max_tokens:
            out.append(current)
            current = []
        current.append(items[i])
    out.append(current)
    return [{side: text.collate([item[side] for item in group]) for side in SIDES} for group in out]


class BertDualEncoder(nn.Module):
    """``BertModel``, mean-pooled over real tokens, for both sides; InfoNCE with a learned temperature."""

    def __init__(self, text: TextBpeTokenizer, args: argparse.Namespace):
        super().__init__()
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=text.vocab_size, hidden_size=args.d_model, num_hidden_layers=args.layers,
                            num_attention_heads=args.heads, intermediate_size=args.d_ff, hidden_act="gelu",
                            hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout,
                            max_position_embeddings=512, pad_token_id=text.pad_id)
        config._attn_implementation = "sdpa"
        self.bert, self.pad_id = BertModel(config, add_pooling_layer=False), text.pad_id
        self.objective = Contrastive(query="source", document="target", learn_temperature=True)

    def encode(self, ids: Tensor) -> Tensor:
        mask = (ids != self.pad_id).long()
        states = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        return (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)

    def loss(self, batch: dict[str, Batch]) -> Tensor:
        return self.objective({f"{s}_embedding": self.encode(batch[s].values) for s in SIDES}, batch)


def build_task(args: argparse.Namespace, train) -> RetrievalTask:
    text = TextBpeTokenizer(d_model=args.d_model, vocab_size=args.vocab, max_len=512, dropout=args.dropout,
                            positions=args.positions, embedding_std=args.embedding_std or None)
    text.fit(list(train.column("source")) + list(train.column("target")))
    core = Encoder(args.d_model, args.heads, args.layers, args.d_ff, args.dropout, norm_first=args.norm == "pre", activation="gelu")
    return RetrievalTask({"source": text, "target": text}, core,
                         objectives={"contrastive": Contrastive(query="source", document="target", learn_temperature=True)})


@torch.no_grad()
def recall(encode, test: list[dict[str, Batch]]) -> dict[str, float]:
    """Recall@1 and @10 both ways over the test pairs; ``encode(side, batch) -> (B, d)``."""
    embedded = {side: torch.cat([encode(side, b[side]).float() for b in test]) for side in SIDES}
    out = {}
    for name, (q, d) in (("de_to_en", SIDES), ("en_to_de", SIDES[::-1])):
        ranks = ranks_of_pairs(embedded[q], embedded[d])
        out.update({f"recall{k}_{name}": round(recall_at(ranks, k), 4) for k in (1, 10)})
    return out


def zero_shot(path: Path, test_data) -> dict[str, float]:
    """A translation checkpoint's encoder, mean-pooled, for German and English alike."""
    model = tformer.load(path).eval()
    text = model.fields["source"]

    def encode(side: str, batch: Batch) -> Tensor:
        memory, pad = model.encode(batch)
        keep = (~pad).unsqueeze(-1).float()
        return (memory * keep).sum(1) / keep.sum(1).clamp(min=1)

    return recall(encode, batches(text, test_data, 4096, sort=False))


def _autocast(precision: str):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("updates", 1000), ("max-tokens", 4096), ("vocab", 8000), ("d-model", 256), ("layers", 4),
                          ("heads", 4), ("d-ff", 1024), ("seed", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="bf16", help="bf16 autocast, as the recipe on a CPU with native bf16")
    parser.add_argument("--norm", choices=("pre", "post"), default="post", help="our layers' LayerNorm: after (the recipe's) or before")
    parser.add_argument("--positions", choices=("sinusoidal", "learned"), default="learned", help="our positions (the recipe's: learned)")
    parser.add_argument("--embedding-std", type=float, default=0.02, help="our embedding's initial std (the recipe's 0.02; 0: d^-1/2)")
    parser.add_argument("--without-peer", action="store_true", help="train ours alone (to screen our options at matched updates)")
    parser.add_argument("--translation", type=Path, default=None, help="a translation_de_en checkpoint, for the zero-shot peer")
    parser.add_argument("--quick", action="store_true", help="a tiny model on 300 training pairs, for the smoke test")
    parser.add_argument("--out", type=Path, default=RUNS, help="folder of summary.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.d_model, args.layers, args.heads, args.d_ff, args.vocab = 32, 1, 2, 64, 300
    torch.manual_seed(args.seed)
    train = freedict_de_en("train", headwords=True, headword_min_words=3)
    test_data = freedict_de_en("test")
    if args.quick:
        train, test_data = RawSubset(train, list(range(300))), RawSubset(test_data, list(range(50)))
    task = build_task(args, train)
    text = task.fields["source"]
    models: dict[str, nn.Module] = {"ours": task} if args.without_peer else {"ours": task, "peer": BertDualEncoder(text, args)}
    train_batches = batches(text, train, args.max_tokens)
    test_batches = batches(text, test_data, args.max_tokens, sort=False)  # row i of each side is pair i
    optimizers = {k: torch.optim.AdamW(m.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01) for k, m in models.items()}
    schedule = WarmupCosine(0.05, args.updates, min_ratio=0.01)
    times: dict[str, list[float]] = {name: [] for name in models}
    order, queue = random.Random(args.seed), []
    for update in range(1, args.updates + 1):
        if not queue:
            queue = order.sample(range(len(train_batches)), len(train_batches))
        batch = train_batches[queue.pop()]
        for name in sorted(models, reverse=update % 2 == 1):  # take turns going first
            for group in optimizers[name].param_groups:
                group["lr"] = args.lr * schedule(update - 1)
            start = time.perf_counter()
            with _autocast(args.precision):
                loss = task.loss(batch)[0] if name == "ours" else models[name].loss(batch)
            loss.backward()
            optimizers[name].step()
            optimizers[name].zero_grad(set_to_none=True)
            times[name].append(time.perf_counter() - start)
        if update % 100 == 0:
            print(f"update {update}: " + ", ".join(f"{statistics.median(t[-100:]):.3f} s {name}" for name, t in times.items()), flush=True)
    for model in models.values():
        model.eval()
    with _autocast(args.precision):
        results = {"ours": recall(lambda side, b: task.encode(side, b.values, b.lengths), test_batches)}
        if "peer" in models:
            results["peer"] = recall(lambda side, b: models["peer"].encode(b.values), test_batches)
    if args.translation is not None:
        results["translation_encoder_zero_shot"] = zero_shot(args.translation, test_data)
    speed = (statistics.median(times["peer"][10:] or times["peer"]) / statistics.median(times["ours"][10:] or times["ours"])
             if "peer" in times else None)
    summary = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "test": results,
               "test_pairs": len(test_data), "seconds_per_update": {k: statistics.median(v) for k, v in times.items()},
               "speed_ratio": speed, "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    keys = list(results["ours"])
    print("| model | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for name, scores in results.items():
        print(f"| {name} | " + " | ".join(f"{100 * scores[k]:.1f}" for k in keys) + " |")
    print(f"speed ours/peer {speed or 0:.2f}x; parameters {summary['parameters']}")


if __name__ == "__main__":
    main()
