"""tformer-predict: run a checkpoint over many inputs, streaming JSON lines that survive interruption."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import hydra
from omegaconf import DictConfig

from ..checkpoint import atomic_write, load
from ..data.datasets import SKIPPED_ERRORS
from ..data.errors import check_choice
from . import CONFIG_DIR
from .errors import explain_config_errors, friendly_errors


def read_inputs(path: Path, file_suffixes: tuple[str, ...]) -> list[str]:
    """The raw inputs in ``path`` for a tokenizer that opens files with ``file_suffixes``
    (``Tokenizer.file_suffixes``): a folder of such files, one such file, or a text file with
    one input per line (a path relative to that file, or the raw text for a tokenizer of text).
    """
    if path.is_dir():
        if not file_suffixes:
            raise ValueError(f"input={path} is a folder; this checkpoint reads no files: give a text file, one input per line")
        files = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in file_suffixes)
        if not files:
            raise FileNotFoundError(f"input={path}: the folder holds no files this checkpoint reads ({', '.join(file_suffixes)})")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"input={path}: no such file or folder")
    if path.suffix.lower() in file_suffixes:
        return [str(path)]
    lines = path.read_text(encoding="utf-8").splitlines()
    if not file_suffixes:
        return lines
    return [str(p if (p := Path(line.strip())).is_absolute() else path.parent / p) for line in lines if line.strip()]


def finished_lines(output: Path) -> int:
    """Count complete lines already in ``output``; drop a torn last line left by a kill."""
    if not output.exists():
        return 0
    complete = []
    for line in output.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        try:
            json.loads(line)
        except json.JSONDecodeError:
            break
        complete.append(line)
    atomic_write(output, "".join(complete))
    return len(complete)


def chunks(items: list[Any], size: int, start: int) -> Iterator[tuple[int, list[Any]]]:
    for i in range(start, len(items), size):
        yield i, items[i : i + size]


def predict_records(task: Any, chunk: list[Any], options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``{"input", "prediction"}`` per input, or ``{"input", "error"}`` for an input that cannot be
    read (a corrupt file, an empty line); a failing chunk is retried one input at a time, so one
    bad input costs no other its prediction.

    Args:
        task: a loaded task.
        chunk: raw inputs.
        options: keyword arguments of ``task.predict`` (``chunk_seconds``).
    Returns:
        One record per input, in order.
    """
    options = options or {}
    try:
        return [{"input": item, "prediction": p} for item, p in zip(chunk, task.predict(chunk, **options))]
    except SKIPPED_ERRORS as error:
        if len(chunk) == 1:
            return [{"input": chunk[0], "error": _message(chunk[0], error)}]
    return [record for item in chunk for record in predict_records(task, [item], options)]


def written_records(task: Any, records: list[dict[str, Any]], start: int, output: Path) -> list[dict[str, Any]]:
    """The records with each prediction as the task writes it (``Task.written_prediction``: the
    prediction itself, or the path of a file it wrote beside ``output``, such as a WAV file).

    Args:
        task: a loaded task.
        records: ``predict_records`` of the inputs numbered from ``start``.
        start: the number of the first input in the whole input list.
        output: the JSON-lines file the records go to.
    """
    return [{**r, "prediction": task.written_prediction(r["prediction"], start + i, output)} if "prediction" in r else r
            for i, r in enumerate(records)]


def _message(item: Any, error: Exception) -> str:
    """One line naming the input (the tokenizers' messages name files, not text lines)."""
    message = " ".join(str(error).splitlines())
    return message if str(item) in message else f"input {str(item)[:60]!r}: {message}"


@contextlib.contextmanager
def appended_lines(output: Path) -> Iterator[Callable[[list[str]], None]]:
    """A function that appends whole lines to ``output`` and syncs them to disk; the file is made
    with its first line, and an output left empty is removed at the end."""
    handle = None

    def append(lines: list[str]) -> None:
        nonlocal handle
        if not lines:
            return
        if handle is None:
            output.parent.mkdir(parents=True, exist_ok=True)
            handle = output.open("a", encoding="utf-8")
        handle.write("".join(lines))
        handle.flush()
        os.fsync(handle.fileno())

    try:
        yield append
    finally:
        if handle is not None:
            handle.close()
        if output.is_file() and output.stat().st_size == 0:
            output.unlink()


def predict_file(cfg: DictConfig) -> int:
    """Predict every input not yet in ``cfg.output``; returns how many lines were written now.

    A bad input gets an error record in its place (``on_error=skip``) or stops the run, after
    the lines before it were written (``on_error=error``).
    """
    on_error = check_choice("on_error", cfg.on_error, ("skip", "error"))
    task = load(cfg.ckpt, map_location=cfg.device)
    if cfg.get("beam_size") is not None and task.generator is not None:
        task.generator = task.generator.with_beam_size(int(cfg.beam_size))
    options = _predict_options(cfg)
    task.predict([], **options)  # a wrong chunk_seconds stops here, not once per input
    inputs = read_inputs(Path(cfg.input), task.fields[task.input_field].file_suffixes)
    output = Path(cfg.output)
    done = finished_lines(output)
    if done:
        print(f"tformer-predict: {output} already holds {done} of {len(inputs)} predictions; continuing")
    written, failed = 0, 0
    with appended_lines(output) as append:
        for start, chunk in chunks(inputs, int(cfg.batch_size), done):
            records = written_records(task, predict_records(task, chunk, options), start, output)
            bad = next((r for r in records if "error" in r), None)
            if bad is not None and on_error == "error":
                append([_line(r) for r in records[: records.index(bad)]])
                raise ValueError(f"{bad['error']} (on_error=skip writes an error line for it and goes on)")
            append([_line(r) for r in records])
            written += len(records)
            failed += sum("error" in r for r in records)
    failures = f"; {failed} input(s) failed (their lines hold an \"error\")" if failed else ""
    print(f"tformer-predict: {written - failed} predictions written, {len(inputs)} in all -> {output}{failures}")
    return written


def _predict_options(cfg: DictConfig) -> dict[str, Any]:
    """Keyword arguments for ``task.predict``: ``chunk_seconds`` unless it is "auto" (every task's
    default, so a plug-in task whose ``predict`` takes no options still predicts)."""
    chunk_seconds = cfg.get("chunk_seconds", "auto")
    return {} if chunk_seconds == "auto" else {"chunk_seconds": chunk_seconds}


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
@friendly_errors("tformer-predict")
def _app(cfg: DictConfig) -> None:
    predict_file(cfg)


def main() -> None:
    """``tformer-predict``: Hydra reads the command line."""
    with explain_config_errors("tformer-predict"):
        _app()


if __name__ == "__main__":
    main()
