"""tformer-predict: run a checkpoint over many inputs, streaming JSON lines that survive interruption."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import hydra
from omegaconf import DictConfig

from ..checkpoint import atomic_write, load
from ..tokenizers import TextOutput
from . import CONFIG_DIR
from .errors import explain_config_errors, friendly_errors

MEDIA_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".wav", ".flac", ".ogg", ".mp3"}


def read_inputs(path: Path, text_source: bool) -> list[str]:
    """A folder (its media files), one media file, or a text file with one input per line."""
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"input={path}: the folder holds no image or audio files ({', '.join(sorted(MEDIA_SUFFIXES))})")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"input={path}: no such file or folder")
    if path.suffix.lower() in MEDIA_SUFFIXES:
        return [str(path)]
    lines = path.read_text(encoding="utf-8").splitlines()
    if text_source:
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


def predict_file(cfg: DictConfig) -> int:
    """Predict every input not yet in ``cfg.output``; returns how many were written now."""
    task = load(cfg.ckpt, map_location=cfg.device)
    if cfg.get("beam_size") is not None and "beam_size" in task.hparams:
        task.hparams.beam_size = int(cfg.beam_size)
    inputs = read_inputs(Path(cfg.input), isinstance(task.source, TextOutput))
    output = Path(cfg.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    done = finished_lines(output)
    if done:
        print(f"tformer-predict: {output} already holds {done} of {len(inputs)} predictions; continuing")
    with output.open("a", encoding="utf-8") as handle:
        for start, chunk in chunks(inputs, int(cfg.batch_size), done):
            for item, prediction in zip(chunk, task.predict(chunk)):
                handle.write(json.dumps({"input": item, "prediction": prediction}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    written = max(0, len(inputs) - done)
    print(f"tformer-predict: {written} predictions written, {len(inputs)} in all -> {output}")
    return written


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
