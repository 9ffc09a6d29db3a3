"""tformer-predict after an interruption: finished lines are kept, a torn line is repaired,
the output ends complete and in input order; bad inputs stop it with the file named."""

from __future__ import annotations

import json

import pytest

import tformer
from tformer.cli.predict import finished_lines, read_inputs

from .conftest import assert_clean_failure, run_cli

SENTENCES = ["ich sehe das haus", "du bist gut", "", "der hund ist rot", "katze", "ich und du"]
KEPT = "kept from the first run"


def test_an_interrupted_prediction_continues_where_it_stopped(text_run, tmp_path):
    inputs = tmp_path / "in.txt"
    inputs.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    expected = tformer.load(text_run.ckpt).predict(SENTENCES)
    lines = [json.dumps({"input": s, "prediction": p}, ensure_ascii=False) + "\n" for s, p in zip(SENTENCES, expected)]
    # killed while writing line 3: two finished lines (marked, so a redo would show) and a torn one
    done = [json.dumps({"input": s, "prediction": KEPT}) + "\n" for s in SENTENCES[:2]]
    output = tmp_path / "out" / "preds.jsonl"
    output.parent.mkdir()
    output.write_text("".join(done) + lines[2][:9], encoding="utf-8")

    result = run_cli("predict", f"ckpt={text_run.ckpt}", f"input={inputs}", f"output={output}", "batch_size=2")
    assert result.returncode == 0, result.stderr
    assert f"already holds 2 of {len(SENTENCES)} predictions; continuing" in result.stdout
    assert f"4 predictions written, {len(SENTENCES)} in all" in result.stdout
    assert output.read_text(encoding="utf-8") == "".join(done + lines[2:])
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [row["input"] for row in rows] == SENTENCES and rows[2]["prediction"] == ""


def test_a_finished_output_is_left_as_it_is(text_run, tmp_path):
    inputs = tmp_path / "in.txt"
    inputs.write_text("katze\ndu\n", encoding="utf-8")
    output = tmp_path / "preds.jsonl"
    finished = "".join(json.dumps({"input": s, "prediction": KEPT}) + "\n" for s in ("katze", "du"))
    output.write_text(finished, encoding="utf-8")
    assert finished_lines(output) == 2 and output.read_text(encoding="utf-8") == finished


def test_a_corrupt_image_stops_prediction_naming_the_file(image_run, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(open(image_run.sample, "rb").read())
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    result = run_cli("predict", f"ckpt={image_run.ckpt}", f"input={folder}", f"output={tmp_path / 'preds.jsonl'}")
    assert_clean_failure(result, "tformer-predict: error:", f"{folder / 'b.png'}: not a readable image")


def test_a_missing_input_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"input={tmp_path / 'nothing.txt'}: no such file or folder"):
        read_inputs(tmp_path / "nothing.txt", text_source=True)
