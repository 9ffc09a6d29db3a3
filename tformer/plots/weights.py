"""Attention weights of a trained task for one input, with labels for the axes.

The input field's tokenizer says what its positions are (``position_labels``, ``position_unit``,
``image_layout``); the output field's text tokenizer names the decoded tokens (``token_labels``).
Drawn for the tasks whose core is an ``Encoder`` (classification) or an ``EncoderDecoder``
(translation, ASR).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..core import Encoder, EncoderDecoder
from ..tokenizers import ImageLayout, TextOutput

__all__ = ["AttentionMaps", "collect_attention", "attention_for_input", "prepare_input"]


@dataclass
class AttentionMaps:
    """Per-layer attention weights of one example, already on the CPU.

    ``encoder[l]`` is (H, S, S) over the S positions of the input field; for encoder-decoder
    tasks ``decoder[l]`` is (H, T, T) and ``cross[l]`` (H, T, S) over the decoded output,
    teacher-forced from ``<bos>``.
    """

    encoder: list[Tensor]
    input_labels: list[str]  # one per input position
    input_unit: str = "position"  # what one input position is, for the axis label ("source token")
    layout: ImageLayout | None = None  # where the input positions lie on an image, for image inputs
    decoder: list[Tensor] = field(default_factory=list)
    cross: list[Tensor] = field(default_factory=list)
    target_inputs: list[str] = field(default_factory=list)  # <bos> y1 .. yn: decoder queries and keys
    target_outputs: list[str] = field(default_factory=list)  # y1 .. yn <eos>: what each query produced
    output: str | None = None  # decoded text or predicted label


def _encoder(task: Any) -> nn.Module:
    # The encoder whose weights are drawn; other cores (a decoder-only stack) are not drawn yet.
    if isinstance(task.core, EncoderDecoder):
        if not isinstance(task.fields["target"], TextOutput):  # the decoder maps are labelled by tokens
            raise ValueError(f"attention maps are drawn for encoder-decoder tasks that write text; {type(task).__name__} "
                             f"(a {type(task.fields['target']).__name__} target) is not supported yet")
        return task.core.encoder
    if isinstance(task.core, Encoder):
        return task.core
    raise ValueError(f"attention maps are drawn for classification and encoder-decoder tasks; {type(task).__name__} "
                     f"(a {type(task.core).__name__} core) is not supported yet")


def prepare_input(task: Any, raw: Any) -> Tensor:
    """Prepare one raw input for the task's input field: text, or a media file path (or an array)."""
    tokenizer = task.fields[task.input_field]
    suffixes = tokenizer.file_suffixes
    if suffixes and isinstance(raw, (str, Path)) and not Path(raw).is_file():
        raise FileNotFoundError(f"--input {raw}: no such file; this checkpoint's {task.input_field} field reads "
                                f"{', '.join(suffixes)} files")
    return tokenizer.prepare(raw)


@torch.no_grad()
def collect_attention(task: Any, prepared: Tensor, generator: Any = None) -> AttentionMaps:
    """Encoder (and decoder) attention of ``task`` for one prepared input.

    Args:
        task: a trained classification or encoder-decoder task, in eval mode.
        prepared: one item as the input field's tokenizer ``prepare``s it.
        generator: what decodes the output the decoder maps are drawn over; None: the task's own.
    Returns:
        The maps, on the CPU.
    """
    encoder, name = _encoder(task), task.input_field
    tokenizer = task.fields[name]
    batch = tokenizer.collate([prepared]).to(task.device)
    x, mask = tokenizer(batch.values, batch.lengths)
    memory, weights = encoder(x, mask, need_weights=True)
    maps = AttentionMaps([w[0].float().cpu() for w in weights], tokenizer.position_labels(prepared, x.size(1)),
                         f"{name} {tokenizer.position_unit}", tokenizer.image_layout(prepared))
    if encoder is task.core:
        maps.output = task.infer({name: batch})[0]
    else:
        _add_decoder_maps(task, maps, memory, mask, generator)
    return maps


def _add_decoder_maps(task: Any, maps: AttentionMaps, memory: Tensor, mask: Tensor, generator: Any) -> None:
    # Decode first, then one teacher-forced pass over <bos> + the output to get every weight at once.
    target = task.target
    ids = task.search({"memory": memory, "memory_pad_mask": mask}, generator)[0]
    inputs = torch.tensor([[target.bos_id] + ids], device=memory.device)  # (1, T)
    y, _ = target(inputs, torch.tensor([inputs.size(1)], device=memory.device))
    _, weights = task.core.decoder(y, memory, mask, need_weights=True)
    maps.decoder = [w[0][0].float().cpu() for w in weights]
    maps.cross = [w[1][0].float().cpu() for w in weights]
    maps.target_inputs = target.token_labels([target.bos_id] + ids)
    maps.target_outputs = target.token_labels(ids + [target.eos_id])
    maps.output = target.decode(ids)


def attention_for_input(task: Any, raw: Any, beam_size: int | None = None) -> AttentionMaps:
    """``collect_attention`` for a raw input: a string, or an image or audio file path.

    Args:
        task: a loaded task.
        raw: the input, as ``task.predict`` takes it.
        beam_size: search width; ``None`` decodes with the task's own generator (what ``predict`` does).
    """
    _encoder(task)  # an unsupported task fails before its input is read
    generator = task.generator
    if beam_size is not None and generator is not None:
        generator = generator.with_beam_size(beam_size)
    prepared = prepare_input(task, raw)
    if task.fields[task.input_field].size(prepared) == 0:
        raise ValueError(f"--input {raw!r} is empty after tokenizing; give a non-empty input")
    return collect_attention(task.eval(), prepared, generator)
