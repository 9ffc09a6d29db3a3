"""Attention weights of a trained task for one input, with labels for the axes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..tokenizers import SPECIAL_TOKENS, TextOutput

__all__ = ["AttentionMaps", "collect_attention", "attention_for_input", "token_labels", "prepare_input", "batch_item"]


@dataclass
class AttentionMaps:
    """Per-layer attention weights of one example, already on the CPU.

    ``encoder[l]`` is (H, S, S); for encoder-decoder tasks ``decoder[l]`` is (H, T, T) and
    ``cross[l]`` (H, T, S) over the decoded output, teacher-forced from ``<bos>``.
    """

    encoder: list[Tensor]
    source_labels: list[str]
    decoder: list[Tensor] = field(default_factory=list)
    cross: list[Tensor] = field(default_factory=list)
    target_inputs: list[str] = field(default_factory=list)  # <bos> y1 .. yn: decoder queries and keys
    target_outputs: list[str] = field(default_factory=list)  # y1 .. yn <eos>: what each query produced
    image: Tensor | None = None  # (C, H, W) prepared image, for image sources
    grid: tuple[int, int] | None = None  # patch rows and columns, for image sources
    n_prefix: int = 0  # tokens before the patches ([CLS])
    output: str | None = None  # decoded text or predicted label
    source_unit: str = "source token"  # what one source position is, for the axis label


def token_labels(tokenizer: Any, ids: list[int]) -> list[str]:
    """Readable token strings: subwords for BPE ("▁" starts a word), characters, special names."""
    hf = getattr(tokenizer, "hf_tokenizer", None)
    if hf is not None:
        return [hf.id_to_token(i) or "?" for i in ids]
    chars = getattr(tokenizer, "chars", None)
    labels = []
    for i in ids:
        if i < len(SPECIAL_TOKENS):
            labels.append(SPECIAL_TOKENS[i])
        elif chars is not None and i - len(SPECIAL_TOKENS) < len(chars):
            labels.append(chars[i - len(SPECIAL_TOKENS)].replace(" ", "␣"))
        else:
            labels.append(tokenizer.decode([i]) or str(i))
    return labels


def prepare_input(task: Any, raw: Any) -> Tensor:
    """Prepare one raw input for the task's source: text, or an image or audio path (or array)."""
    source = task.source
    if not isinstance(source, TextOutput) and isinstance(raw, (str, Path)) and not Path(raw).is_file():
        kind = "an image" if hasattr(source, "patch_size") else "an audio"
        raise FileNotFoundError(f"--input {raw}: no such file; this checkpoint's source takes {kind} file path")
    return source.prepare(raw)


def batch_item(source: Any, values: Tensor, lengths: Tensor, index: int) -> Tensor:
    """Item ``index`` of a collated batch, as ``source.prepare`` gave it (padding cut off)."""
    if hasattr(source, "patch_size"):  # images share one size; lengths count tokens, not rows
        return values[index]
    return values[index, : int(lengths[index])]


def _source_labels(task: Any, prepared: Tensor, length: int) -> list[str]:
    source = task.source
    if isinstance(source, TextOutput):
        return token_labels(source, prepared.tolist())
    if hasattr(source, "patch_size"):
        rows, cols = source.grid  # prepare() resizes every image to the training size
        return ["[CLS]"] * source.n_prefix + [f"{r},{c}" for r in range(rows) for c in range(cols)]
    return [str(i) for i in range(length)]  # audio: subsampled frame index


@torch.no_grad()
def collect_attention(task: Any, prepared: Tensor, beam_size: int = 1) -> AttentionMaps:
    """Encoder (and decoder) attention of ``task`` for one prepared input.

    Args:
        task: a trained task (classification, translation or ASR), in eval mode.
        prepared: ``task.source.prepare(raw)`` output, one item.
        beam_size: search width for the output the decoder maps are drawn over (1 = greedy).
    Returns:
        The maps, on the CPU.
    """
    batch = task.source.collate([prepared]).to(task.device)
    x, mask = task.source(batch.values, batch.lengths)
    encoder = task.core.encoder if hasattr(task.core, "decoder") else task.core
    memory, weights = encoder(x, mask, need_weights=True)
    maps = AttentionMaps([w[0].float().cpu() for w in weights], _source_labels(task, prepared, x.size(1)))
    if hasattr(task.source, "features"):  # audio: positions are subsampled frames
        seconds = task.source.features.hop_length / task.source.features.sample_rate * 4  # x4 conv subsampling
        maps.source_unit = f"encoder frame ({seconds * 1000:.0f} ms each)"
    if hasattr(task.source, "patch_size"):
        maps.source_unit = "patch (row, column)"
        maps.image, maps.grid, maps.n_prefix = prepared.cpu(), tuple(task.source.grid), task.source.n_prefix
    if hasattr(task.core, "decoder"):
        _add_decoder_maps(task, maps, memory, mask, beam_size)
    else:
        maps.output = task.infer(batch)[0]
    return maps


def _add_decoder_maps(task: Any, maps: AttentionMaps, memory: Tensor, mask: Tensor, beam_size: int) -> None:
    # Decode first, then one teacher-forced pass over <bos> + the output to get every weight at once.
    target = task.target
    ids = task.search(memory, mask, beam_size)[0]
    inputs = torch.tensor([[target.bos_id] + ids], device=memory.device)  # (1, T)
    y, _ = target(inputs, torch.tensor([inputs.size(1)], device=memory.device))
    _, weights = task.core.decoder(y, memory, mask, need_weights=True)
    maps.decoder = [w[0][0].float().cpu() for w in weights]
    maps.cross = [w[1][0].float().cpu() for w in weights]
    maps.target_inputs = token_labels(target, [target.bos_id] + ids)
    maps.target_outputs = token_labels(target, ids + [target.eos_id])
    maps.output = target.decode(ids)


def attention_for_input(task: Any, raw: Any, beam_size: int | None = None) -> AttentionMaps:
    """``collect_attention`` for a raw input: a string, or an image or audio file path.

    Args:
        task: a loaded task.
        raw: the input, as ``task.predict`` takes it.
        beam_size: search width; ``None`` uses the task's own (what ``predict`` would do).
    """
    if beam_size is None:
        beam_size = int(task.hparams.get("beam_size", 1))
    prepared = prepare_input(task, raw)
    if task.source.size(prepared) == 0:
        raise ValueError(f"--input {raw!r} is empty after tokenizing; give a non-empty input")
    return collect_attention(task.eval(), prepared, beam_size)
