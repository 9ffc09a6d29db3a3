"""Inputs longer than a model takes: predicted in chunks and joined, or refused before the forward pass."""

from __future__ import annotations

from typing import Any, Sequence

from torch import Tensor

from tformer.tokenizers import Tokenizer

__all__ = ["AUTO", "chunk_length", "check_positions", "predict_in_chunks"]

AUTO = "auto"  # chunk_seconds: the input tokenizer's own chunk length, where the task joins outputs


def chunk_length(task: Any, chunk_seconds: float | str | None) -> float | None:
    """The chunk length ``predict`` cuts inputs into, or None for whole inputs.

    Args:
        task: the task; its ``piece_separator`` says whether its outputs join (None: they do not).
        chunk_seconds: ``"auto"`` (the input tokenizer's ``chunk_seconds``, where the task joins
            outputs), None (never cut) or a number of seconds.
    Returns:
        Seconds, or None.
    """
    tokenizer = task.fields[task.input_field]
    if chunk_seconds is None:
        return None
    if chunk_seconds == AUTO:
        return tokenizer.chunk_seconds if _chunks_join(task) else None
    if isinstance(chunk_seconds, str) or not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds={chunk_seconds!r}: give a positive number of seconds, 'auto' "
                         f"(the checkpoint's {tokenizer.chunk_seconds}) or null (no chunks)")
    if not _chunks_join(task):
        raise ValueError(f"chunk_seconds={chunk_seconds}: {type(task).__name__} cannot predict its "
                         f"{type(tokenizer).__name__} inputs in chunks; set chunk_seconds=null")
    return float(chunk_seconds)


def _chunks_join(task: Any) -> bool:
    """The input tokenizer cuts long inputs and the task joins the outputs of their chunks."""
    return task.fields[task.input_field].can_chunk and task.piece_separator is not None


def check_positions(task: Any, prepared: Tensor, what: str, chunked: bool) -> None:
    """``ValueError`` before the forward pass if ``prepared`` needs more positions than the model has.

    Args:
        task: the task.
        prepared: one prepared input or chunk.
        what: the input, as the message names it.
        chunked: ``prepared`` is a chunk (the message then asks for shorter chunks).
    """
    tokenizer: Tokenizer = task.fields[task.input_field]
    limit = tokenizer.max_positions
    positions = tokenizer.positions_of(prepared)
    if limit is None or positions <= limit:
        return
    if chunked:
        advice = "lower chunk_seconds"
    elif _chunks_join(task):
        seconds = "SECONDS" if tokenizer.chunk_seconds is None else f"{tokenizer.chunk_seconds:g}"
        advice = f"predict it in chunks: predict(inputs, chunk_seconds={seconds}) or tformer-predict chunk_seconds={seconds}"
    else:
        advice = "shorten the input"
    raise ValueError(f"{what} needs {positions} positions (one per {tokenizer.position_unit}), more than the {limit} "
                     f"the model takes (the {task.input_field} tokenizer's max_len); {advice}")


def predict_in_chunks(task: Any, inputs: Sequence[Any], seconds: float) -> list[Any]:
    """Predict each input chunk by chunk and join its chunks' outputs with ``task.piece_separator``.

    Chunks are prepared as they are read and decoded ``task.predict_batch_size`` at a time, so at
    most one batch of chunks is in memory, however long the inputs are.

    Args:
        task: a task in eval mode.
        inputs: raw inputs of the input field.
        seconds: the longest chunk.
    Returns:
        One joined output per input, in order.
    """
    tokenizer = task.fields[task.input_field]
    outputs: list[list[Any]] = [[] for _ in inputs]
    pending: list[tuple[int, Tensor]] = []
    for index, item in enumerate(inputs):
        for prepared, where in tokenizer.prepare_chunks(item, seconds):
            check_positions(task, prepared, where, chunked=True)
            pending.append((index, prepared))
            if len(pending) == task.predict_batch_size:
                _decode(task, pending, outputs)
    _decode(task, pending, outputs)
    return [task.piece_separator.join(str(o) for o in pieces if o != "") for pieces in outputs]


def _decode(task: Any, pending: list[tuple[int, Tensor]], outputs: list[list[Any]]) -> None:
    """Decode the pending chunks as one batch, append each output to its input's, empty ``pending``."""
    if not pending:
        return
    tokenizer = task.fields[task.input_field]
    batch = {task.input_field: tokenizer.collate([prepared for _, prepared in pending]).to(task.device)}
    for (index, _), output in zip(pending, task.infer(batch)):
        outputs[index].append(output)
    pending.clear()
