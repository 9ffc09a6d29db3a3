"""The detr_fashion_canvas recipe's peer: torchvision's Faster R-CNN with a MobileNetV3-Large FPN
backbone, trained from scratch (no pretrained weights) on the same fashion_canvas training split for
a wall-clock budget, and scored with the same mAP code (``tasks.detection_metrics.average_precision``,
torchmetrics' COCO mAP) on the same test split. With ``--ckpt`` a tformer checkpoint is scored there too.

    python -m benchmarks.detection_peer --minutes 28 --ckpt runs/DATE/TIME/checkpoints/last.ckpt
    python -m benchmarks.detection_peer --minutes 0.5 --limit 50      # a quick check

The peer reads each canvas as three grey channels at its own 128 pixels (``PEER_OPTIONS``), with
AdamW and a warm-up then a cosine decay over the time budget, as tformer's run plan fits its
schedule to ``trainer.max_time``. Table and
``benchmarks/runs/detection_peer/summary.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
from torch import Tensor, nn

from tformer.data import RawSubset, fashion_canvas
from tformer.tasks.detection_metrics import average_precision, truth_rows
from tformer.tokenizers import BoxesTokenizer

RUNS = Path(__file__).resolve().parent / "runs" / "detection_peer"
# Sized for 128-pixel canvases of at most 6 objects (torchvision's defaults are for COCO at 800 px):
# its own 128 pixels; the proposal counts of torchvision's 320-pixel MobileNet variant at test time;
# fewer proposals and sampled regions per image in training: 64, a quarter of them positive, still
# cover 6 objects (512 regions x 16 images through the 12,544 x 1,024 box head and RoIAlign's
# backward pass made an update cost 9 s on one core here, 6 s on two).
PEER_OPTIONS = dict(min_size=128, max_size=128, rpn_pre_nms_top_n_test=150, rpn_post_nms_top_n_test=150,
                    rpn_post_nms_top_n_train=500, box_batch_size_per_image=64)


def peer_model(n_classes: int) -> nn.Module:
    """Faster R-CNN, MobileNetV3-Large FPN, random weights, for ``n_classes`` classes (+ background) at 128 px."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    return fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=n_classes + 1, **PEER_OPTIONS)


def pixels(path: str) -> Tensor:
    """A grey image file -> (3, H, W) float in [0, 1]."""
    with PIL.Image.open(path) as image:
        grey = torch.from_numpy(np.asarray(image.convert("L"), dtype=np.float32) / 255.0)
    return grey.expand(3, -1, -1)


def peer_target(item: dict[str, Any], index: dict[str, int]) -> dict[str, Tensor]:
    """A raw ``boxes`` item -> torchvision's target: pixel boxes and labels 1..C (0 is background)."""
    rows = truth_rows(item, index)
    return {"boxes": rows[:, :4], "labels": rows[:, 4].long() + 1}


def learning_rate(peak: float, elapsed: float, budget: float, step: int, warmup: int) -> float:
    """A linear warm-up over ``warmup`` updates, then a cosine decay to 1% over the time budget."""
    rise = min(1.0, (step + 1) / warmup)
    progress = min(1.0, elapsed / budget)
    return peak * rise * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_peer(model: nn.Module, train, index: dict[str, int], args: argparse.Namespace) -> dict[str, float]:
    """Train ``model`` on ``train`` (items of ``fashion_canvas``) for ``args.minutes`` of wall clock."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    budget, started, step, images = 60 * args.minutes, time.perf_counter(), 0, 0
    order, rng = [], random.Random(0)
    model.train()
    while time.perf_counter() - started < budget:
        if len(order) < args.batch_size:
            order += rng.sample(range(len(train)), len(train))
        picked, order = order[: args.batch_size], order[args.batch_size :]
        items = [train[i] for i in picked]
        losses = model([pixels(item["source"]) for item in items], [peer_target(item["target"], index) for item in items])
        loss = sum(losses.values())
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args.lr, time.perf_counter() - started, budget, step, args.warmup)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        step, images = step + 1, images + len(items)
        if step % 50 == 0:
            print(f"  peer update {step}: loss {float(loss):.3f}, {time.perf_counter() - started:.0f} s", flush=True)
    seconds = time.perf_counter() - started
    return {"updates": step, "seconds": round(seconds, 1), "images_per_second": round(images / max(seconds, 1e-9), 1)}


@torch.no_grad()
def peer_detections(model: nn.Module, test, batch_size: int = 16) -> list[Tensor]:
    """The peer's detections on every test image: (q, 6) rows [x0, y0, x1, y1, score, class]."""
    model.eval()
    found = []
    for start in range(0, len(test), batch_size):
        outputs = model([pixels(test[i]["source"]) for i in range(start, min(start + batch_size, len(test)))])
        found += [torch.cat([o["boxes"], o["scores"][:, None], (o["labels"] - 1).float()[:, None]], dim=1) for o in outputs]
    return found


def ours_detections(ckpt: str, test, index: dict[str, int]) -> list[Tensor]:
    """A tformer detection checkpoint's detections on every test image (every query, no threshold)."""
    import tformer

    task = tformer.load(ckpt)
    predictions = task.predict(list(test.column("source")), score_threshold=0.0)
    return [torch.tensor([[*box, score, index[label]] for box, label, score in zip(p["boxes"], p["labels"], p["scores"])],
                         dtype=torch.float32).reshape(-1, 6) for p in predictions]


def _split(name: str, limit: int | None, root: str | None):
    data = fashion_canvas(name, root=root)
    return RawSubset(data, range(min(limit, len(data)))) if limit else data


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=28.0, help="the peer's training budget (the recipe's max_time)")
    parser.add_argument("--ckpt", help="a tformer detection checkpoint to score on the same test split")
    parser.add_argument("--limit", type=int, help="use only the first N training and test canvases (a quick check)")
    parser.add_argument("--batch-size", type=int, default=16, help="canvases per update (16)")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW's peak learning rate (1e-3)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up updates (100)")
    parser.add_argument("--root", help="data root (default: tformer's data folder)")
    parser.add_argument("--out", type=Path, default=RUNS, help="folder for summary.json")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    train, test = _split("train", args.limit, args.root), _split("test", args.limit, args.root)
    classes = BoxesTokenizer()
    classes.fit(train.column("target"))
    index = classes.index
    truth = [truth_rows(item, index) for item in test.column("target")]
    model = peer_model(classes.n_classes)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"Faster R-CNN MobileNetV3-FPN, {parameters / 1e6:.1f} M parameters, {len(train)} training canvases, "
          f"{args.minutes:g} minutes")
    summary = {"peer": {"model": "fasterrcnn_mobilenet_v3_large_fpn", "parameters": parameters,
                        **train_peer(model, train, index, args), **average_precision(peer_detections(model, test), truth)},
               "test_canvases": len(test), "train_canvases": len(train), "minutes": args.minutes}
    if args.ckpt:
        summary["tformer"] = {"checkpoint": args.ckpt, **average_precision(ours_detections(args.ckpt, test, index), truth)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n| model | updates | test mAP | mAP@50 |\n|---|---|---|---|")
    peer = summary["peer"]
    print(f"| Faster R-CNN MobileNetV3-FPN, scratch, {args.minutes:g} min | {peer['updates']} | "
          f"{100 * peer['map']:.1f} | {100 * peer['map_50']:.1f} |")
    if args.ckpt:
        ours = summary["tformer"]
        print(f"| tformer DETR ({Path(args.ckpt).name}) | - | {100 * ours['map']:.1f} | {100 * ours['map_50']:.1f} |")
    return summary


if __name__ == "__main__":
    main()
