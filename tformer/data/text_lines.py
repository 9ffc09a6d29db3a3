"""Text recognition data: German and English sentences of FreeDict drawn as line images in many fonts.

The sentences are those of ``freedict_de_en``, both sides, with its splits: training lines come
from its training pairs, valid and test lines from its valid and test sentences, and a training
line that holds a held-out line (as a run of whole words) is dropped, so no test sentence is read
in training. Sentences longer than ``max_chars`` are cut at word boundaries into lines of about
equal length. Each line is drawn in a font of its split (``tformer.data.fonts``: the test fonts
are families training never sees) with its own size, margins and faults (``line_render``); the
``test_clean`` split holds the test lines once more, in the same fonts, sizes and margins, black
on white without faults. A font that cannot draw a character of a line (its cmap, fontTools) is
passed over for that line and counted; a line no font of its split can draw is left out.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import random
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from os import PathLike
from pathlib import Path
from typing import Any, Iterable

from tformer.data.builtin import Builtin, data_processes, prepared_folder, register_builtin
from tformer.data.datasets import RawDataset
from tformer.data.errors import DataError, require_path
from tformer.data.fonts import FONT_DIR, FONTS, font_paths, missing_characters
from tformer.data.freedict import DICT_PATH, prepare_freedict
from tformer.data.line_render import draw_style, render_line
from tformer.kinds import IMAGE, TEXT, gives
from tformer.registry import DATASETS

__all__ = ["IMAGE_SPLITS", "cut_line", "held_out_free", "prepare_text_lines", "TextLinesDataset",
           "text_lines"]

log = logging.getLogger(__name__)
IMAGE_SPLITS = ("train", "valid", "test", "test_clean")
CHUNK = 256  # lines per task handed to a process


def _greedy(words: list[str], width: int) -> list[str]:
    # as many words on each line as fit ``width`` characters (a longer word alone)
    lines, current = [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return lines + [current] if current else lines


def cut_line(text: str, max_chars: int) -> list[str]:
    """Cut ``text`` at spaces into the fewest lines of at most ``max_chars`` characters, the longest
    as short as it can be (a word longer than ``max_chars`` stays whole on a line of its own)."""
    words = text.split()
    count = len(_greedy(words, max_chars))  # filling each line is what makes the fewest
    width = -(-len(" ".join(words)) // max(count, 1))
    while len(_greedy(words, width)) > count:  # the narrowest width that needs no more lines
        width += 1
    return _greedy(words, width)


def _spans(line: str) -> Iterable[str]:
    words = line.split()
    return (" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1))


def held_out_free(lines: list[str], held_out: set[str]) -> tuple[list[str], int]:
    """``lines`` without those that hold a line of ``held_out`` as a run of whole words; how many went."""
    kept = [line for line in lines if not any(span in held_out for span in _spans(line))]
    return kept, len(lines) - len(kept)


def _sentences(dict_path: str) -> dict[str, list[str]]:
    """Both sides of each freedict_de_en split, German then English, deduplicated."""
    sentences = {}
    with tempfile.TemporaryDirectory() as scratch:
        prepare_freedict(Path(scratch), dict_path=dict_path)  # its default sizes and seed: its splits
        for split in ("train", "valid", "test"):
            sides = [(Path(scratch) / f"{split}.{language}").read_text(encoding="utf-8").splitlines()
                     for language in ("de", "en")]
            sentences[split] = list(dict.fromkeys(line for side in sides for line in side))
    return sentences


def _lines(sentences: list[str], max_chars: int, rng: random.Random) -> list[str]:
    order = list(sentences)
    rng.shuffle(order)
    return list(dict.fromkeys(line for sentence in order for line in cut_line(sentence, max_chars)))


def _pick_font(text: str, fonts: list[Path], rng: random.Random, skipped: Counter, missing: dict) -> Path | None:
    """A font of ``fonts`` drawn at random that can draw ``text``; each that cannot is counted and passed over."""
    candidates = list(fonts)
    while candidates:
        font = candidates.pop(rng.randrange(len(candidates)))
        lacking = missing_characters(text, font)
        if not lacking:
            return font
        skipped["font_lacks_character"] += 1
        missing.setdefault(font.name, set()).update(lacking)
    skipped["no_font_for_line"] += 1
    return None


def _jobs(split: str, lines: list[str], size: int, fonts: list[Path], rng: random.Random,
          skipped: Counter, missing: dict) -> list[dict[str, Any]]:
    jobs = []
    for text in lines:
        if len(jobs) == size:
            break
        font = _pick_font(text, fonts, rng, skipped, missing)
        if font is not None:
            image = f"{split}/{len(jobs):06d}.png"
            jobs.append({"text": text, "font": str(font), "style": draw_style(rng), "image": image})
    return jobs


def _render_chunk(chunk: tuple[str, list[dict[str, Any]]]) -> list[int]:
    folder, jobs = chunk
    widths = []
    for job in jobs:
        image = render_line(job["text"], job["font"], job["style"])
        image.save(Path(folder) / job["image"], optimize=False)
        widths.append(image.width)
    return widths


def _render(folder: Path, jobs: list[dict[str, Any]], processes: int) -> None:
    """Draw every job's image into ``folder`` and record its width in the job."""
    chunks = [(str(folder), jobs[start : start + CHUNK]) for start in range(0, len(jobs), CHUNK)]
    if processes > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            widths = list(pool.map(_render_chunk, chunks))
    else:
        widths = list(map(_render_chunk, chunks))
    for job, width in zip(jobs, (w for chunk in widths for w in chunk)):
        job["width"] = width


def _write_manifest(path: Path, jobs: list[dict[str, Any]], font_dir: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for job in jobs:
            font = Path(job["font"])
            row = {"image": job["image"], "text": job["text"], "width": job["width"],
                   "font": str(font.relative_to(font_dir)) if font.is_relative_to(font_dir) else str(font),
                   **asdict(job["style"])}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _check_options(fonts: dict[str, list[str]], **counts: int) -> None:
    for name, value in counts.items():
        if not isinstance(value, int) or value < 1:
            raise DataError(f"text_lines: {name}={value!r}; expected a whole number >= 1")
    if sorted(fonts) != ["test", "train", "valid"] or not all(fonts.values()):
        raise DataError(f"text_lines: fonts has the splits {sorted(fonts)}; expected font files for each of "
                        "train, valid and test")


def prepare_text_lines(
    folder: Path, train_size: int = 30000, valid_size: int = 500, test_size: int = 1000, seed: int = 0,
    max_chars: int = 48, fonts: dict[str, list[str]] = FONTS, font_dir: str = str(FONT_DIR),
    dict_path: str = str(DICT_PATH), processes: int | None = None,
) -> dict[str, Any]:
    """Draw the lines of every split into ``folder/<split>/NNNNNN.png`` and write ``<split>.jsonl``.

    Args:
        folder: the (temporary) output folder.
        train_size, valid_size, test_size: lines per split (fewer if the sentences run out).
        seed: the seed of the line order, fonts and styles.
        max_chars: the longest line; longer sentences are cut at word boundaries.
        fonts: split -> font files (relative to ``font_dir``), "train", "valid" and "test".
        font_dir: the fonts' folder.
        dict_path: the FreeDict dictionary (see ``freedict_de_en``).
        processes: processes that draw (default ``data_processes()``: every core, or $TFORMER_DATA_PROCESSES).
    Returns:
        The info record: lines, characters and fonts per split, what was skipped and why, megabytes.
    """
    _check_options(fonts, train_size=train_size, valid_size=valid_size, test_size=test_size, max_chars=max_chars)
    paths = font_paths(fonts, font_dir)
    sentences = _sentences(dict_path)
    rng = random.Random(seed)
    lines = {split: _lines(sentences[split], max_chars, rng) for split in ("train", "valid", "test")}
    skipped: Counter = Counter({"font_lacks_character": 0, "no_font_for_line": 0})  # reported even when none
    held_out = {*lines["valid"], *lines["test"]}
    lines["train"], skipped["train_line_holds_held_out_line"] = held_out_free(lines["train"], held_out)
    sizes, missing = {"train": train_size, "valid": valid_size, "test": test_size}, {}
    jobs = {split: _jobs(split, lines[split], sizes[split], paths[split], rng, skipped, missing) for split in sizes}
    jobs["test_clean"] = [{**job, "style": job["style"].clean(), "image": job["image"].replace("test/", "test_clean/", 1)}
                          for job in jobs["test"]]
    for split in IMAGE_SPLITS:
        (folder / split).mkdir()
    _render(folder, [job for split in IMAGE_SPLITS for job in jobs[split]], processes or data_processes())
    for split in IMAGE_SPLITS:
        _write_manifest(folder / f"{split}.jsonl", jobs[split], Path(font_dir))
    info = {
        "splits": {split: len(rows) for split, rows in jobs.items()},
        "characters": {split: sum(len(job["text"]) for job in rows) for split, rows in jobs.items()},
        "fonts": {split: len(files) for split, files in paths.items()},
        "skipped": dict(skipped),
        "characters_fonts_lack": {name: "".join(sorted(chars)) for name, chars in sorted(missing.items())},
        "megabytes": round(sum(f.stat().st_size for f in folder.rglob("*.png")) / 2**20, 1),
        "source": dict_path,
    }
    log.info("text_lines: %s", ", ".join(f"{split} {count}" for split, count in info["splits"].items()))
    log.info("text_lines: skipped %s", ", ".join(f"{count} {why.replace('_', ' ')}" for why, count in skipped.items()))
    return info


register_builtin(Builtin(
    "text_lines", "German and English FreeDict sentences drawn as 32-pixel line images in 98 fonts of 19 "
    "fonts-* packages, test fonts unseen, distorted and clean (dict-freedict-deu-eng, fonts-*)",
    prepare_text_lines, {"train_size": 30000, "valid_size": 500, "test_size": 1000, "seed": 0, "max_chars": 48,
                         "fonts": FONTS, "font_dir": str(FONT_DIR), "dict_path": str(DICT_PATH)},
))


class TextLinesDataset(RawDataset):
    """Line images and their texts from a manifest of JSON lines ``{"image": path, "text": ..., "width": ...}``
    (paths relative to the manifest's folder); fields ``source`` (the image's path) and ``target`` (its text).

    Args:
        path: the manifest (``tformer-data text_lines`` writes ``<split>.jsonl``).
    """

    fields = {"source": IMAGE, "target": TEXT}

    def __init__(self, path: str | PathLike):
        self.path = require_path(path, "a JSON-lines manifest of line images and texts")
        rows = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                row = json.loads(line)
                rows.append((str(self.path.parent / row["image"]), row["text"], float(row.get("width", 1))))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise DataError(f"{self.path}:{number}: expected a JSON object with \"image\" and \"text\" "
                                f"(and \"width\", pixels), got {line[:80]!r} ({error})") from None
        self.widths = [width for _, _, width in rows]
        super().__init__({"source": [image for image, _, _ in rows], "target": [text for _, text, _ in rows]})

    def size_hints(self) -> dict[str, list[float]]:
        """Pixel columns per image (strips are proportional), characters per text."""
        return {"source": list(self.widths), "target": [float(len(text)) for text in self.column("target")]}


@DATASETS.register("text_lines")
@gives(source=IMAGE, target=TEXT)
def text_lines(split: str = "train", root: str | None = None, train_size: int = 30000, seed: int = 0) -> TextLinesDataset:
    """One split of the rendered text lines, prepared on first use (a few minutes on two cores).

    Args:
        split: "train", "valid", "test" (fonts training never sees, distorted like training) or
            "test_clean" (the same test lines, fonts, sizes and margins, black on white without faults).
        root: the data root (see ``tformer.data.builtin.data_root``).
        train_size: training lines (another size is prepared into a folder of its own; valid and
            test stay the same lines).
        seed: the seed of lines, fonts and styles.
    Returns:
        Items ``{"source": PNG path (grayscale, 32 pixels high), "target": the line's text}``.
    """
    if split not in IMAGE_SPLITS:
        raise DataError(f"text_lines: split={split!r} is not one of {', '.join(IMAGE_SPLITS)}")
    folder = prepared_folder("text_lines", root, train_size=train_size, seed=seed)
    return TextLinesDataset(folder / f"{split}.jsonl")
