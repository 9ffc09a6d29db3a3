"""The peer of the fillets ASR recipes: ``torchaudio.models.Conformer`` with a CTC head, trained on
the same clips, features, batches, characters, optimizer, schedule and number of updates.

    python -m benchmarks.asr_peer --language cs --updates 1000     # the updates our run made
    python -m benchmarks.asr_peer --language cs --updates 100000 --minutes 28   # or the same time
    python -m benchmarks.asr_peer --quick --updates 4              # smoke test

The peer gets tformer's audio front-end (log-mel filter banks, SpecAugment, the recipe's
convolution subsampling) so that the two differ in what the issue compares: a Conformer encoder
with CTC against tformer's encoder-decoder with CTC (0.5) and a CTC-rescored beam. Its depth is
chosen so that its parameter count is closest to the recipe's (``--layers``, ``--recipe-conv-kernel``:
the recipe's encoder layers and their convolution width, Czech's; Dutch: 6 and 0). It decodes greedily
(CTC best path). Test WER and CER (torchmetrics) on ``test`` and ``test_unseen``, the validation
CER curve and the time go to ``benchmarks/runs/asr_peer_<language>/summary.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchmetrics.functional.text as text_metrics
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchaudio.models import Conformer

from tformer.core import EncoderDecoder
from tformer.data import PreparedDataset, TokenBudgetBatchSampler, fillets_speech
from tformer.schedules import InverseSqrtWarmup
from tformer.tokenizers import AudioFbankTokenizer, TextCharTokenizer

RUNS = Path(__file__).resolve().parent / "runs"


def recipe_parameters(args: argparse.Namespace, vocab: int) -> int:
    """Parameters of the asr_fillets recipe at these sizes: front-end, embedding, core, CTC head."""
    audio = AudioFbankTokenizer(args.d_model, conv_channels=args.conv_channels)
    core = EncoderDecoder(args.d_model, args.heads, args.layers, 2, args.d_ff, norm_first=True,
                          conv_kernel=args.recipe_conv_kernel)
    text = args.d_model * vocab + args.d_model * vocab + vocab  # embedding (tied output) + CTC head
    return sum(p.numel() for m in (audio, core) for p in m.parameters()) + text


class ConformerCtc(nn.Module):
    """tformer's audio front-end -> torchaudio's Conformer -> a linear CTC head."""

    def __init__(self, audio: AudioFbankTokenizer, vocab: int, layers: int, args: argparse.Namespace):
        super().__init__()
        self.audio = audio
        self.encoder = Conformer(args.d_model, args.heads, args.d_ff, layers, args.kernel, dropout=args.dropout)
        self.head = nn.Linear(args.d_model, vocab)

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x, pad_mask = self.audio(values, lengths)  # (B, T', d)
        lengths = (~pad_mask).sum(1)
        x, lengths = self.encoder(x, lengths)
        return self.head(x).log_softmax(-1), lengths  # (B, T', V)


def matched_layers(args: argparse.Namespace, vocab: int, target: int) -> int:
    def count(layers: int) -> int:
        model = ConformerCtc(AudioFbankTokenizer(args.d_model, conv_channels=args.conv_channels), vocab, layers, args)
        return sum(p.numel() for p in model.parameters())
    return min(range(1, 13), key=lambda layers: abs(count(layers) - target))


def loader(raw, fields, args, shuffle: bool) -> DataLoader:
    prepared = PreparedDataset(raw, fields, {"source": "audio", "target": "text"})
    sizes = [int(s) + 1 for s in raw.size_hints()["audio"]]
    sampler = TokenBudgetBatchSampler(sizes, args.max_tokens, shuffle=shuffle, seed=args.seed, num_replicas=1, rank=0)
    return DataLoader(prepared, batch_sampler=sampler, collate_fn=prepared.collate, num_workers=args.workers)


@torch.no_grad()
def evaluate(model: ConformerCtc, data: DataLoader, text: TextCharTokenizer) -> dict[str, float]:
    model.eval()
    hypotheses, references = [], []
    for batch in data:
        log_probs, lengths = model(*batch["source"])
        for row, length in zip(log_probs.argmax(-1), lengths):
            path = torch.unique_consecutive(row[:length]).tolist()
            hypotheses.append(text.decode([i for i in path if i != text.pad_id]))
        references += [text.decode(ids[:n]) for ids, n in zip(*batch["target"])]
    model.train()
    return {"wer": float(text_metrics.word_error_rate(hypotheses, references)),
            "cer": float(text_metrics.char_error_rate(hypotheses, references)), "example": hypotheses[0]}


def train(model, data, text, args, valid) -> tuple[list[dict], float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    schedule = InverseSqrtWarmup(args.d_model, args.warmup, args.scale)
    curve, update, start = [], 0, time.perf_counter()

    def over() -> bool:
        return update >= args.updates or (args.minutes and time.perf_counter() - start > 60 * args.minutes)

    epoch = 0
    while not over():
        data.batch_sampler.set_epoch(epoch)  # reshuffled each epoch, as Lightning does for ours
        epoch += 1
        for batch in data:
            update += 1
            for group in optimizer.param_groups:
                group["lr"] = schedule(update - 1)
            log_probs, lengths = model(*batch["source"])
            targets, target_lengths = batch["target"]
            loss = F.ctc_loss(log_probs.transpose(0, 1), targets, lengths, target_lengths, blank=text.pad_id,
                              zero_infinity=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # trainer=cpu's gradient_clip_val
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            done = over()
            if update % args.eval_every == 0 or done:
                scores = evaluate(model, valid, text) if valid is not None else {}
                point = {"update": update, "loss": float(loss.detach()), "minutes": (time.perf_counter() - start) / 60,
                         **{f"val_{k}": v for k, v in scores.items() if k != "example"}}
                curve.append(point)
                print(json.dumps(point), flush=True)
            if done:
                break
    return curve, (time.perf_counter() - start) / 60


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", default="cs")
    for name, default in (("updates", 1000), ("d-model", 144), ("heads", 4), ("layers", 5), ("d-ff", 576),
                          ("conv-channels", 32), ("kernel", 15), ("recipe-conv-kernel", 15), ("max-tokens", 12000), ("warmup", 400),
                          ("eval-every", 200), ("workers", 2), ("seed", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--minutes", type=float, default=0, help="stop after this much training time (0: --updates only)")
    parser.add_argument("--game-dir", default=None, help="the game's data folder (default: the Debian packages')")
    parser.add_argument("--quick", action="store_true", help="a tiny model on a few clips, for the smoke test")
    parser.add_argument("--out", type=Path, default=None, help="folder of summary.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.d_model, args.heads, args.layers, args.d_ff, args.workers = 32, 2, 1, 64, 0
    torch.manual_seed(args.seed)
    where = {"game_dir": args.game_dir} if args.game_dir else {}
    splits = {s: fillets_speech(s, args.language, max_duration=20 if s == "train" else None, **where)
              for s in ("train", "valid", "test", "test_unseen")}
    audio = AudioFbankTokenizer(args.d_model, conv_channels=args.conv_channels, time_mask=0.05, n_time_masks=4,
                                dropout=args.dropout)
    text = TextCharTokenizer(args.d_model)
    text.fit(splits["train"].column("text"))
    fields = {"source": audio, "target": text}
    target = recipe_parameters(args, text.vocab_size)
    layers = matched_layers(args, text.vocab_size, target)
    model = ConformerCtc(audio, text.vocab_size, layers, args)
    loaders = {s: loader(raw, fields, args, s == "train") for s, raw in splits.items() if len(raw)}
    curve, minutes = train(model, loaders["train"], text, args, loaders.get("valid"))
    tests = {s: evaluate(model, loaders[s], text) for s in ("test", "test_unseen") if s in loaders}
    summary = {"args": {k: str(v) for k, v in vars(args).items()}, "conformer_layers": layers,
               "parameters": {"peer": sum(p.numel() for p in model.parameters()), "recipe": target},
               "minutes": minutes, "curve": curve, "test": tests}
    out = args.out or RUNS / f"asr_peer_{args.language}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({"parameters": summary["parameters"], "layers": layers, "minutes": round(minutes, 1),
                      "test": tests}, ensure_ascii=False))


if __name__ == "__main__":
    main()
