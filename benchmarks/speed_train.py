"""Training-step throughput: tformer's core against torch.nn.Transformer, and a tformer ViT against timm's.

Each pair has identical shapes, weights, dtype, dropout and optimizer; only the core differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tformer.core import SinusoidalPositions
from tformer.interop import from_timm_vit, from_torch_transformer

__all__ = [
    "TranslationShape",
    "VitShape",
    "translation_models",
    "translation_batch",
    "translation_train_step",
    "core_train_step",
    "vit_models",
    "vit_train_step",
]


@dataclass
class TranslationShape:
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 3  # encoder and decoder each
    d_ff: int = 1024
    dropout: float = 0.1
    vocab: int = 8000
    batch: int = 32
    src_len: int = 32
    tgt_len: int = 32


@dataclass
class VitShape:
    image_size: int = 32
    patch_size: int = 4
    channels: int = 3
    d_model: int = 192
    depth: int = 6
    n_heads: int = 3
    mlp_ratio: float = 4.0
    n_classes: int = 10
    batch: int = 64


class TorchTransformerCore(nn.Module):
    """``nn.Transformer`` called like ``EncoderDecoder``, with everything a translation batch gives it:
    a boolean causal mask (``tgt_is_causal``), source, memory and target padding masks."""

    def __init__(self, model: nn.Transformer):
        super().__init__()
        self.model = model

    def forward(self, src: Tensor, tgt: Tensor, src_pad_mask: Tensor, tgt_pad_mask: Tensor) -> Tensor:
        T = tgt.size(1)
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt.device).triu(1)  # True = masked
        return self.model(
            src, tgt, tgt_mask=causal, src_key_padding_mask=src_pad_mask, tgt_key_padding_mask=tgt_pad_mask,
            memory_key_padding_mask=src_pad_mask, tgt_is_causal=True,
        )


class Seq2Seq(nn.Module):
    """Token ids -> logits around a core: scaled embeddings + sinusoidal positions, output projection.

    Args:
        core: ``EncoderDecoder`` or ``TorchTransformerCore``.
        vocab: source and target vocabulary size.
        target_pad_mask: hand the core the target padding mask (nn.Transformer); tformer's decoder
            does without it for right-padded targets.
    """

    def __init__(self, core: nn.Module, d_model: int, vocab: int, target_pad_mask: bool):
        super().__init__()
        self.core, self.target_pad_mask = core, target_pad_mask
        self.src_embed, self.tgt_embed = nn.Embedding(vocab, d_model), nn.Embedding(vocab, d_model)
        self.positions = SinusoidalPositions(d_model)
        self.project = nn.Linear(d_model, vocab)
        self.project.weight = self.tgt_embed.weight  # the paper shares them
        self.scale = math.sqrt(d_model)

    def forward(self, src: Tensor, tgt: Tensor, src_pad: Tensor, tgt_pad: Tensor) -> Tensor:
        x = self.positions(self.src_embed(src) * self.scale)  # (B, S, d)
        y = self.positions(self.tgt_embed(tgt) * self.scale)  # (B, T, d)
        h = self.core(x, y, src_pad, tgt_pad if self.target_pad_mask else None)  # (B, T, d)
        return self.project(h)  # (B, T, V)


def translation_models(shape: TranslationShape, device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """(ours, peer): tformer ``EncoderDecoder`` imported from a random ``nn.Transformer``, same embeddings."""
    torch.manual_seed(0)
    transformer = nn.Transformer(
        shape.d_model, shape.n_heads, shape.n_layers, shape.n_layers, shape.d_ff, shape.dropout, batch_first=True
    )
    ours = Seq2Seq(from_torch_transformer(transformer), shape.d_model, shape.vocab, target_pad_mask=False)
    peer = Seq2Seq(TorchTransformerCore(transformer), shape.d_model, shape.vocab, target_pad_mask=True)
    peer.load_state_dict({k: v for k, v in ours.state_dict().items() if not k.startswith("core.")}, strict=False)
    return ours.to(device).train(), peer.to(device).train()


def translation_batch(shape: TranslationShape, device: torch.device | str = "cpu") -> tuple[Tensor, ...]:
    """Right-padded random ids with lengths from half to full: src, tgt, src_pad, tgt_pad, labels."""
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, shape.vocab, (shape.batch, shape.src_len), generator=g)
    tgt = torch.randint(4, shape.vocab, (shape.batch, shape.tgt_len), generator=g)
    src_pad = _right_padding(shape.batch, shape.src_len, g)
    tgt_pad = _right_padding(shape.batch, shape.tgt_len, g)
    labels = tgt.masked_fill(tgt_pad, -100)
    return tuple(t.to(device) for t in (src, tgt, src_pad, tgt_pad, labels))


def _right_padding(batch: int, length: int, g: torch.Generator) -> Tensor:
    lengths = torch.randint(max(1, length // 2), length + 1, (batch,), generator=g)
    lengths[0] = length  # the longest item sets the batch length
    return torch.arange(length)[None, :] >= lengths[:, None]  # (B, L), True = padding


def adam(model: nn.Module) -> torch.optim.Optimizer:
    """The paper's Adam (beta2 0.98, eps 1e-9), fused: the fastest variant on CPU and GPU alike."""
    return torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9, fused=True)


def translation_train_step(model: nn.Module, batch: tuple[Tensor, ...]) -> Callable[[], float]:
    """One forward + backward + Adam step on ``batch``; returns a callable."""
    src, tgt, src_pad, tgt_pad, labels = batch
    optimizer = adam(model)

    def step() -> float:
        logits = model(src, tgt, src_pad, tgt_pad)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def core_train_step(model: Seq2Seq, batch: tuple[Tensor, ...]) -> Callable[[], float]:
    """The core alone: fixed embedded inputs (no embedding, no projection), mean-square loss, Adam on the core."""
    src, tgt, src_pad, tgt_pad, _ = batch
    with torch.no_grad():
        x, y = model.src_embed(src), model.tgt_embed(tgt)  # (B, S, d), (B, T, d)
    core, optimizer = model.core, adam(model.core)
    tgt_pad = tgt_pad if model.target_pad_mask else None

    def step() -> float:
        loss = core(x, y, src_pad, tgt_pad).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def vit_models(shape: VitShape, device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """(ours, peer): a tformer ``ViTClassifier`` imported from a random timm ``VisionTransformer``."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    peer = VisionTransformer(
        img_size=shape.image_size, patch_size=shape.patch_size, in_chans=shape.channels, num_classes=shape.n_classes,
        embed_dim=shape.d_model, depth=shape.depth, num_heads=shape.n_heads, mlp_ratio=shape.mlp_ratio,
    )
    ours = from_timm_vit(peer)
    return ours.to(device).train(), peer.to(device).train()


def vit_train_step(model: nn.Module, shape: VitShape, device: torch.device | str = "cpu") -> Callable[[], float]:
    g = torch.Generator().manual_seed(2)
    images = torch.randn(shape.batch, shape.channels, shape.image_size, shape.image_size, generator=g).to(device)
    labels = torch.randint(0, shape.n_classes, (shape.batch,), generator=g).to(device)
    optimizer = adam(model)

    def step() -> float:
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step
