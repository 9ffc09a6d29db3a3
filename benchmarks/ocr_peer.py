"""Text recognition against a peer: Tesseract 5 (Debian ``tesseract-ocr``, LSTM, eng+deu) on text_lines' test images.

    python -m benchmarks.ocr_peer [--checkpoint CKPT] [--limit N] [--out benchmarks/runs/ocr_peer]

Tesseract reads each test image as one line of text (``tesseract IMAGE stdout --psm 7 -l
eng+deu``, one thread per call, two calls at a time), in its distorted rendering (split ``test``)
and its clean one (``test_clean``: the same lines, fonts, sizes and margins, black on white);
given a checkpoint, tformer's model reads the same image files (``task.predict``, its own
decoding). Both are scored by the same torchmetrics classes the translation task logs
(``tformer.tasks.metrics``): CER and WER over the whole set, errors / reference characters or
words, on the texts as written (case and punctuation count). Both fonts and sentences of the
test split are unseen in training. ``summary.json`` and ``predictions.jsonl`` go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tformer.data import text_lines
from tformer.tasks.metrics import text_metrics

RUNS = Path(__file__).resolve().parent / "runs" / "ocr_peer"
SPLITS = {"distorted": "test", "clean": "test_clean"}
TESSERACT = ("--psm", "7", "-l", "eng+deu")  # one line of text; English and German models together


def tesseract(path: str) -> str:
    """Tesseract's reading of one line image, its whitespace made single spaces."""
    result = subprocess.run(["tesseract", path, "stdout", *TESSERACT], capture_output=True, text=True,
                            env={**os.environ, "OMP_THREAD_LIMIT": "1"}, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"tesseract failed on {path}: {result.stderr.strip()}")
    return " ".join(result.stdout.split())


def tesseract_version() -> str:
    """The first line of ``tesseract --version``, or an error naming the packages to install."""
    if shutil.which("tesseract") is None:
        raise SystemExit("tesseract not found: apt-get install -y tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu")
    return subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """CER and WER (torchmetrics, as the task logs them) of ``hypotheses`` against ``references``."""
    result = {}
    for name, metric in text_metrics(["cer", "wer"], sync_on_compute=False).items():
        metric.update(hypotheses, references)
        result[name] = float(metric.compute())
    return result


def read_with_tesseract(paths: list[str], workers: int = 2) -> tuple[list[str], float]:
    """Tesseract's readings of ``paths`` in order, and the seconds they took."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        texts = list(pool.map(tesseract, paths))
    return texts, time.perf_counter() - started


def read_with_tformer(task, paths: list[str]) -> tuple[list[str], float]:
    """A loaded task's readings of ``paths`` in order (``task.predict``), and the seconds they took."""
    started = time.perf_counter()
    texts = task.predict(paths)
    return texts, time.perf_counter() - started


def compare(splits: dict[str, tuple[list[str], list[str]]], checkpoint: str | None, workers: int) -> tuple[dict, list]:
    """Every reader on every rendering: the summary and one prediction record per image and reader."""
    readers = {"tesseract": lambda paths: read_with_tesseract(paths, workers)}
    if checkpoint:
        import tformer

        task = tformer.load(checkpoint)
        readers["tformer"] = lambda paths: read_with_tformer(task, paths)
    summary: dict = {}
    records = []
    for reader, read in readers.items():
        for rendering, (paths, references) in splits.items():
            hypotheses, seconds = read(paths)
            summary.setdefault(reader, {})[rendering] = {**scores(hypotheses, references), "seconds": round(seconds, 1)}
            print(f"{reader} {rendering}: CER {100 * summary[reader][rendering]['cer']:.2f} %, "
                  f"WER {100 * summary[reader][rendering]['wer']:.2f} % ({seconds:.0f} s)", flush=True)
            records += [{"reader": reader, "rendering": rendering, "image": p, "reference": r, "prediction": h}
                        for p, r, h in zip(paths, references, hypotheses)]
    return summary, records


def table(summary: dict) -> str:
    """The summary as a Markdown table, CER and WER in per cent."""
    lines = ["| reader | CER distorted | WER distorted | CER clean | WER clean |", "|---|---|---|---|---|"]
    for reader, result in summary.items():
        cells = [f"{100 * result[r][m]:.2f} %" for r in SPLITS for m in ("cer", "wer")]
        lines.append(f"| {reader} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ocr_peer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a text recognition checkpoint (experiment=ocr_text_lines) to read too")
    parser.add_argument("--limit", type=int, help="only the first N test lines (default: all 1,000)")
    parser.add_argument("--root", help="data root (default: $TFORMER_DATA or ~/.cache/tformer/data)")
    parser.add_argument("--workers", type=int, default=2, help="Tesseract processes at a time (2)")
    parser.add_argument("--out", type=Path, default=RUNS, help="folder for summary.json and predictions.jsonl")
    args = parser.parse_args(argv)
    version = tesseract_version()
    splits = {}
    for rendering, split in SPLITS.items():
        data = text_lines(split, root=args.root)
        count = len(data) if args.limit is None else min(args.limit, len(data))
        splits[rendering] = (list(data.column("source")[:count]), list(data.column("target")[:count]))
    summary, records = compare(splits, args.checkpoint, args.workers)
    summary["conditions"] = {"lines": len(splits["clean"][0]), "tesseract": version, "tesseract_options": list(TESSERACT),
                             "checkpoint": args.checkpoint}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    with (args.out / "predictions.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    print(table({k: v for k, v in summary.items() if k != "conditions"}))


if __name__ == "__main__":
    main()
