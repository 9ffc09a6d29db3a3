"""Export a trained task to ONNX (``torch.onnx.export``) or to a ``torch.export`` program (.pt2).

A classification task becomes one graph ``values, lengths -> logits``; a translation or ASR task
becomes two: the encoder ``values, lengths -> memory, memory_pad_mask, cross_keys, cross_values``
and the decoder step (see ``DecoderStepGraph``). ``values, lengths`` are those of the task's
input field, as its tokenizer collates them. A JSON file beside them says what they hold.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.export import Dim

from .checkpoint import atomic_write, describe
from .core import Encoder, EncoderDecoder
from .export_graphs import ClassifierGraph, DecoderStepGraph, EncoderGraph
from .registry import TASKS
from .tokenizers import TextOutput

__all__ = ["export_task", "graph_names", "graph_files", "check_format", "FORMATS"]

log = logging.getLogger(__name__)
FORMATS = (".onnx", ".pt2")
BATCH, LENGTH, SOURCE, PAST = Dim("batch"), Dim("length"), Dim("source_length"), Dim("past_length")


def _input_dims(tokenizer: Any) -> dict[str, dict[int, Any]]:
    # The batch varies; the length too where the tokenizer says its items vary in length (not images).
    values = {0: BATCH, 1: LENGTH} if tokenizer.varies_in_length else {0: BATCH}
    return {"values": values, "lengths": {0: BATCH}}


def graph_names(task: Any) -> tuple[str, ...]:
    """The graphs ``task`` exports to: ``("classifier",)`` for an encoder with a head,
    ``("encoder", "decoder")`` for an encoder-decoder; ``ValueError`` naming the task otherwise."""
    if isinstance(task.core, Encoder):
        return ("classifier",)
    target = task.fields["target"] if isinstance(task.core, EncoderDecoder) else None
    if isinstance(target, TextOutput):
        return ("encoder", "decoder")
    target_kind = f", a {type(target).__name__} target" if target is not None else ""
    raise ValueError(f"tformer-export writes classification and encoder-decoder tasks that write text; the "
                     f"{_task_name(task)} task (a {type(task.core).__name__} core{target_kind}) is not supported yet")


def _task_name(task: Any) -> str:
    try:
        return TASKS.name_of(task)
    except KeyError:
        return type(task).__name__


def check_format(output: str | Path) -> Path:
    """``output`` as a path if it ends in .onnx or .pt2; ``ValueError`` otherwise."""
    output = Path(output)
    if output.suffix not in FORMATS:
        raise ValueError(f"-o {output}: unknown export format {output.suffix or '(no suffix)'!r}; use .onnx or .pt2")
    return output


def graph_files(output: str | Path, task: Any) -> dict[str, Path]:
    """Graph name -> file: ``model.onnx`` for classification; ``model.encoder.onnx`` and
    ``model.decoder.onnx`` for encoder-decoder tasks (``.pt2`` likewise)."""
    output, names = check_format(output), graph_names(task)
    if len(names) == 1:
        return {names[0]: output}
    stem = output.with_suffix("")
    return {name: stem.with_name(f"{stem.name}.{name}{output.suffix}") for name in names}


def _graphs(task: Any, max_len: int) -> dict[str, tuple[nn.Module, tuple, list[str], list[str], dict]]:
    # name -> (module, example args, input names, output names, dynamic shapes)
    tokenizer = task.fields[task.input_field]
    values, lengths = tokenizer.example_inputs(2)
    dims = _input_dims(tokenizer)
    if graph_names(task) == ("classifier",):
        return {"classifier": (ClassifierGraph(task), (values, lengths), ["values", "lengths"], ["logits"], dims)}
    encoder = EncoderGraph(task).eval()
    with torch.no_grad():
        _, mask, cross_k, cross_v = encoder(values, lengths)
    past = cross_k.new_zeros(cross_k.shape[:3] + (3, cross_k.size(-1)))  # (L, B, H, t, Dh)
    tokens = torch.full((values.size(0), 1), task.target.bos_id)
    step_args = (tokens, mask, cross_k, cross_v, past, past.clone())
    cross_dims, past_dims = {1: BATCH, 3: SOURCE}, {1: BATCH, 3: PAST}
    step_dims = {"tokens": {0: BATCH}, "memory_pad_mask": {0: BATCH, 1: SOURCE}, "cross_keys": cross_dims,
                 "cross_values": cross_dims, "past_keys": past_dims, "past_values": past_dims}
    return {
        "encoder": (encoder, (values, lengths), ["values", "lengths"],
                    ["memory", "memory_pad_mask", "cross_keys", "cross_values"], dims),
        "decoder": (DecoderStepGraph(task, max_len), step_args, list(step_dims), ["logits", "keys", "values"], step_dims),
    }


def _to_onnx(module: nn.Module, args: tuple, names: tuple[list[str], list[str]], dims: dict, path: Path) -> str:
    # The dynamo exporter first; the TorchScript one if it fails. Returns which one wrote the file.
    inputs, outputs = names
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, args, dynamo=True, input_names=inputs, output_names=outputs,
                                        dynamic_shapes=dims, verbose=False)
        program.save(str(path))  # weights go to a .data file beside it only past ONNX's 2 GB limit
        return "dynamo"
    except Exception as error:  # noqa: BLE001 - any exporter failure falls back to the older exporter
        first_line = (str(error).strip().splitlines() or [""])[0]
        log.warning("dynamo ONNX export of %s failed (%s: %s); using the TorchScript exporter",
                    path.name, type(error).__name__, first_line)
    axes = {name: {axis: dim.__name__ for axis, dim in axes.items()} for name, axes in dims.items()}
    hook = module.register_state_dict_post_hook(_drop_extra_state)
    try:
        torch.onnx.export(module, args, str(path), dynamo=False, input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=17)
    finally:
        hook.remove()
    return "torchscript"


def _drop_extra_state(module: nn.Module, state: dict[str, Any], prefix: str, metadata: Any) -> None:
    # The TorchScript tracer detaches every state_dict value; vocabularies are not tensors.
    for key in [k for k, v in state.items() if not isinstance(v, Tensor)]:
        del state[key]


def _to_pt2(module: nn.Module, args: tuple, dims: dict, path: Path) -> str:
    program = torch.export.export(module, args, dynamic_shapes=dims)
    torch.export.save(program, str(path))
    return "torch.export"


def _metadata(task: Any, files: dict[str, Path], exporters: dict[str, str], max_len: int) -> dict[str, Any]:
    spec = describe(task)
    meta: dict[str, Any] = {"task": spec["task"], "fields": spec["fields"], "input_field": task.input_field,
                            "files": {name: path.name for name, path in files.items()}, "exporters": exporters,
                            "vocabularies": {}}
    for name, tokenizer in task.fields.items():
        if type(tokenizer).get_extra_state is not nn.Module.get_extra_state:
            meta["vocabularies"][name] = tokenizer.get_extra_state()  # BPE tokenizer JSON, alphabet or class names
    if "decoder" in files:
        decoder, target = task.core.decoder, task.target
        attn = decoder.layers[0].self_attn
        meta["decoder"] = {"n_layers": len(decoder.layers), "n_heads": attn.n_heads, "head_dim": attn.head_dim,
                           "bos_id": target.bos_id, "eos_id": target.eos_id, "pad_id": target.pad_id,
                           "vocab_size": target.vocab_size, "max_positions": _max_positions(target, max_len),
                           "max_len_offset": task.hparams.get("max_len_offset")}
    return meta


def _max_positions(target: Any, max_len: int) -> int:
    # Output positions the decoder step can embed: max_len, or fewer learned ones.
    return max_len if target.max_positions is None else min(max_len, target.max_positions)


@torch.no_grad()
def export_task(task: Any, output: str | Path, max_len: int = 1024) -> dict[str, Path]:
    """Write the task's graphs (format by the suffix of ``output``) and ``<stem>.json`` beside them.

    Args:
        task: a loaded task (``tformer.load``); it is exported on the CPU in eval mode.
        output: ``model.onnx`` or ``model.pt2``; encoder-decoder tasks write ``model.encoder.*``
            and ``model.decoder.*``.
        max_len: output positions the decoder step supports (sinusoidal target positions).
    Returns:
        Graph name -> path written, plus ``"metadata"``.
    """
    task = task.cpu().eval()
    files = graph_files(output, task)
    exporters = {}
    for name, (module, args, inputs, outputs, dims) in _graphs(task, max_len).items():
        module.eval()
        files[name].parent.mkdir(parents=True, exist_ok=True)
        if files[name].suffix == ".onnx":
            exporters[name] = _to_onnx(module, args, (inputs, outputs), dims, files[name])
        else:
            exporters[name] = _to_pt2(module, args, dims, files[name])
    metadata = Path(output).with_suffix(".json")
    atomic_write(metadata, json.dumps(_metadata(task, files, exporters, max_len), indent=2, ensure_ascii=False) + "\n")
    return {**files, "metadata": metadata}
