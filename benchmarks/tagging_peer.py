"""The punctuation_en recipe's tagger against Hugging Face's ``BertForTokenClassification`` of the
same shape, trained on the same batches with the same BPE vocabulary, optimizer, schedule and updates.

    python -m benchmarks.tagging_peer                 # the recipe's shape, 1,500 updates, bf16
    python -m benchmarks.tagging_peer --train freedict fortunes --updates 1000
    python -m benchmarks.tagging_peer --updates 4 --quick
    python -m benchmarks.tagging_peer --lr 2e-3 --peer-lr 1e-3     # each model at its own peak learning rate
    python -m benchmarks.tagging_peer --conv-kernel 7 --our-d-ff 640  # ours with a convolution module, BERT's parameters

BERT has one head: its labels are the (punctuation, case) pairs, on each word's first subword
(-100 on the rest, as Hugging Face's token-classification examples align them); ours has a head
per field. Both models take turns on each batch in one process, so a busy machine slows both
alike; the speed ratio is the peer's median seconds per update over ours. Validation and test
per-tag F1 (torchmetrics, over words) for both, on freedict's splits (``valid_f1``, ``test_f1``)
and on fortunes' (``fortunes_valid_f1``, ...), whatever ``--train`` names: freedict's 10 words
in capitals in valid and test are too few to score ALL; fortunes has 455. Written to
``benchmarks/runs/tagging_peer/summary.json`` (``--out``). ``--models ours`` trains ours alone,
to screen its options at the same updates (the peer draws from the same random stream, so ours
alone is another draw than ours beside it).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassF1Score

from tformer.core import Encoder
from tformer.data import RawConcat, RawSubset, punctuation_en, punctuation_fortunes
from tformer.schedules import WarmupCosine
from tformer.tasks.tagging import TaggingTask
from tformer.tokenizers import Batch, TagTokenizer, TextBpeTokenizer

RUNS = Path(__file__).resolve().parent / "runs" / "tagging_peer"
FIELDS = ("punctuation", "case")
CORPORA = {"freedict": punctuation_en, "fortunes": punctuation_fortunes}


def batches(task: TaggingTask, data, max_tokens: int) -> list[dict[str, Batch]]:
    """The split as token-budget batches of similar lengths (padded tokens <= ``max_tokens``)."""
    items = [{"source": task.source.prepare(row["text"]), **{f: task.fields[f].prepare(row[f]) for f in FIELDS}}
             for row in (data[i] for i in range(len(data)))]
    items.sort(key=lambda item: len(item["source"]))
    out, current = [], []
    for item in items:
        if current and (len(current) + 1) * len(item["source"]) > max_tokens:
            out.append(current)
            current = []
        current.append(item)
    out.append(current)
    return [{name: task.fields[name].collate([item[name] for item in group]) for name in ("source", *FIELDS)}
            for group in out]


def bert(task: TaggingTask, args: argparse.Namespace) -> nn.Module:
    from transformers import BertConfig, BertForTokenClassification

    labels = task.fields["punctuation"].n_tags * task.fields["case"].n_tags
    config = BertConfig(vocab_size=task.source.vocab_size, hidden_size=args.d_model, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.d_ff, hidden_act="gelu",
                        hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout,
                        max_position_embeddings=512, num_labels=labels, pad_token_id=task.source.pad_id)
    config._attn_implementation = "sdpa"
    return BertForTokenClassification(config)


def peer_labels(task: TaggingTask, batch: dict[str, Batch]) -> tuple[Tensor, Tensor]:
    """(B, T) pair labels on each word's first subword (-100 elsewhere), and that start mask."""
    ids = batch["source"].values
    starts = task.source.word_starts(ids)
    labels = torch.full_like(ids, -100)
    n_case = task.fields["case"].n_tags
    pairs = batch["punctuation"].values * n_case + batch["case"].values  # (B, W)
    real = batch["punctuation"].values >= 0
    labels[starts] = pairs[real]
    return labels, starts


def peer_loss(model: nn.Module, task: TaggingTask, batch: dict[str, Batch]) -> Tensor:
    ids = batch["source"].values
    labels, _ = peer_labels(task, batch)
    return model(input_ids=ids, attention_mask=(ids != task.source.pad_id).long(), labels=labels).loss


@torch.no_grad()
def word_predictions(model: nn.Module, task: TaggingTask, batch: dict[str, Batch], is_peer: bool) -> dict[str, Tensor]:
    """Each real word's predicted tag index per field, in reading order."""
    if not is_peer:
        outputs = task(batch)
        real = batch["punctuation"].values >= 0
        return {f: outputs[f"logits_{f}"].argmax(-1)[real] for f in FIELDS}
    ids = batch["source"].values
    _, starts = peer_labels(task, batch)
    pairs = model(input_ids=ids, attention_mask=(ids != task.source.pad_id).long()).logits.argmax(-1)[starts]
    n_case = task.fields["case"].n_tags
    return {"punctuation": pairs // n_case, "case": pairs % n_case}


def evaluate(model: nn.Module, task: TaggingTask, data: list[dict[str, Batch]], is_peer: bool, precision: str) -> dict:
    """Per-tag F1 and their macro mean for each field over ``data``."""
    model.eval()
    metrics = {f: MulticlassF1Score(task.fields[f].n_tags, average="none") for f in FIELDS}
    with _autocast(precision):
        for batch in data:
            predicted = word_predictions(model, task, batch, is_peer)
            for f in FIELDS:
                metrics[f].update(predicted[f], batch[f].values[batch[f].values >= 0])
    model.train()
    out = {}
    for f in FIELDS:
        scores = metrics[f].compute().tolist()
        out[f] = {tag: round(s, 4) for tag, s in zip(task.fields[f].tags, scores)} | {"macro": round(sum(scores) / len(scores), 4)}
    return out


def _autocast(precision: str):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def build_task(args: argparse.Namespace, train) -> TaggingTask:
    source = TextBpeTokenizer(d_model=args.d_model, vocab_size=args.vocab, lowercase=True, max_len=512, dropout=args.dropout,
                              positions=getattr(args, "positions", "sinusoidal"), embedding_std=getattr(args, "embedding_std", None))
    source.fit(train.column("text"))
    tags = {f: TagTokenizer() for f in FIELDS}
    for f in FIELDS:
        tags[f].fit(train.column(f))
    d_ff = getattr(args, "our_d_ff", None) or args.d_ff
    core = Encoder(args.d_model, args.heads, args.layers, d_ff, args.dropout, norm_first=getattr(args, "norm", "pre") == "pre",
                   activation="gelu", conv_kernel=getattr(args, "conv_kernel", 0))
    return TaggingTask({"source": source, **tags}, core, head_dropout=args.dropout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("updates", 1500), ("max-tokens", 4000), ("vocab", 8000), ("d-model", 256), ("layers", 4),
                          ("heads", 4), ("d-ff", 1024), ("seed", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3, help="the peak learning rate (ours, and the peer's unless --peer-lr)")
    parser.add_argument("--peer-lr", type=float, default=None, help="the peer's peak learning rate, if not --lr")
    parser.add_argument("--norm", choices=("pre", "post"), default="pre", help="our layers' LayerNorm: before (the recipe's) or after")
    parser.add_argument("--positions", choices=("sinusoidal", "learned"), default="sinusoidal", help="our positions")
    parser.add_argument("--embedding-std", type=float, default=None, help="our embedding's initial std (default d^-1/2)")
    parser.add_argument("--conv-kernel", type=int, default=0, help="our layers' convolution module width (odd; 0: none)")
    parser.add_argument("--our-d-ff", type=int, default=None,
                        help="our feed-forward width, if not --d-ff (e.g. 640 with --conv-kernel 7 matches BERT's parameters)")
    parser.add_argument("--train", nargs="+", choices=list(CORPORA), default=["freedict"],
                        help="the corpora trained on, joined (both are always scored)")
    parser.add_argument("--models", choices=("both", "ours"), default="both", help="ours alone: a screen of our options")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="bf16", help="bf16 autocast, as the recipe on a CPU with native bf16")
    parser.add_argument("--quick", action="store_true", help="a tiny model on 200 training lines, for the smoke test")
    parser.add_argument("--out", type=Path, default=RUNS, help="folder of summary.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.d_model, args.layers, args.heads, args.d_ff, args.vocab = 32, 1, 2, 64, 300
    torch.manual_seed(args.seed)
    n_eval = 50 if args.quick else None
    train = RawConcat([_head(CORPORA[name]("train"), 200 if args.quick else None) for name in args.train])
    scored = {_set_name(corpus, split): _head(builder(split), n_eval)
              for corpus, builder in CORPORA.items() for split in ("valid", "test")}
    splits = {"train": train} | scored
    task = build_task(args, splits["train"])
    models = {"ours": task} | ({"peer": bert(task, args)} if args.models == "both" else {})
    data = {split: batches(task, rows, args.max_tokens) for split, rows in splits.items()}
    peak = {"ours": args.lr, "peer": args.lr if args.peer_lr is None else args.peer_lr}
    optimizers = {k: torch.optim.AdamW(m.parameters(), lr=peak[k], betas=(0.9, 0.98), weight_decay=0.01) for k, m in models.items()}
    schedule = WarmupCosine(0.05, args.updates, min_ratio=0.01)
    times: dict[str, list[float]] = {name: [] for name in models}
    order = random.Random(args.seed)
    queue: list[int] = []
    for update in range(1, args.updates + 1):
        if not queue:
            queue = order.sample(range(len(data["train"])), len(data["train"]))
        batch = data["train"][queue.pop()]
        for name in (list(models) if update % 2 == 0 else list(models)[::-1]):
            for group in optimizers[name].param_groups:
                group["lr"] = peak[name] * schedule(update - 1)
            start = time.perf_counter()
            with _autocast(args.precision):
                loss = task.loss(batch)[0] if name == "ours" else peer_loss(models[name], task, batch)
            loss.backward()
            optimizers[name].step()
            optimizers[name].zero_grad(set_to_none=True)
            times[name].append(time.perf_counter() - start)
        if update % 100 == 0:
            print(f"update {update}: " + ", ".join(f"{statistics.median(t[-100:]):.3f} s {name}" for name, t in times.items()),
                  flush=True)
    results = {name: {k: evaluate(m, task, data[name], k == "peer", args.precision) for k, m in models.items()}
               for name in scored}
    summary = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               **{f"{name}_f1": result for name, result in results.items()},
               "seconds_per_update": {k: statistics.median(v) for k, v in times.items()},
               "parameters": {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}}
    if "peer" in models:
        summary["speed_ratio"] = statistics.median(times["peer"][10:] or times["peer"]) / statistics.median(times["ours"][10:] or times["ours"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    names = {"ours": "ours", "peer": "BertForTokenClassification"}
    print("| field | tag | " + " | ".join(f"{name} F1 {names[k]}" for name in scored for k in models) + " |")
    print("|---|---|" + "---|" * (len(scored) * len(models)))
    for f in FIELDS:
        for tag in (*task.fields[f].tags, "macro"):
            cells = [f"{100 * results[name][k][f][tag]:.1f}" for name in scored for k in models]
            print(f"| {f} | {tag} | " + " | ".join(cells) + " |")
    if "speed_ratio" in summary:
        print(f"speed ours/peer {summary['speed_ratio']:.2f}x", end="; ")
    print(f"parameters {summary['parameters']}")


def _set_name(corpus: str, split: str) -> str:
    """freedict's splits keep their plain names (the summaries before fortunes was added)."""
    return split if corpus == "freedict" else f"{corpus}_{split}"


def _head(data, n: int | None):
    return data if n is None else RawSubset(data, list(range(min(n, len(data)))))


if __name__ == "__main__":
    main()
