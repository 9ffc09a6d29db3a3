"""tformer-predict after an interruption: finished lines are kept, a torn line is repaired,
the output ends complete and in input order; a bad input gets an error line naming the file,
or stops the run (``on_error=error``); no empty output is left behind."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir

import tformer
from tformer.cli import CONFIG_DIR
from tformer.cli.predict import finished_lines, predict_file, read_inputs

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


def _images(image_run, folder, names="abc", bad="b"):
    """PNGs named ``names`` in ``folder``, copies of the run's sample except the corrupt ``bad`` ones."""
    folder.mkdir()
    for name in names:
        content = b"\x89PNG\r\n\x1a\n" + b"\x00" * 30 if name in bad else open(image_run.sample, "rb").read()
        (folder / f"{name}.png").write_bytes(content)
    return [str(folder / f"{name}.png") for name in names]


def _predict(ckpt, inputs, output, **options):
    """Run tformer-predict in this process, with the config as its command line composes it."""
    overrides = [f"ckpt={ckpt}", f"input={inputs}", f"output={output}"] + [f"{k}={v}" for k, v in options.items()]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return predict_file(compose("predict", overrides=overrides))


def _rows(output):
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def test_a_corrupt_image_gets_an_error_line_and_the_others_their_predictions(image_run, tmp_path, capsys):
    paths = _images(image_run, tmp_path / "images")
    output = tmp_path / "preds.jsonl"
    assert _predict(image_run.ckpt, tmp_path / "images", output) == 3  # one chunk: a, b, c
    assert f"2 predictions written, 3 in all -> {output}; 1 input(s) failed" in capsys.readouterr().out
    rows = _rows(output)
    assert [row["input"] for row in rows] == paths and "prediction" not in rows[1]
    assert rows[1]["error"].startswith(f"{paths[1]}: not a readable image")
    good = tformer.load(image_run.ckpt).predict([paths[0]])[0]
    assert rows[0]["prediction"] == rows[2]["prediction"] == good
    # an interrupted run continues after its last line, the error line counting as finished
    output.write_text("".join(output.read_text(encoding="utf-8").splitlines(keepends=True)[:2]), encoding="utf-8")
    assert _predict(image_run.ckpt, tmp_path / "images", output) == 1
    assert "already holds 2 of 3 predictions; continuing" in capsys.readouterr().out
    assert _rows(output) == rows


def test_on_error_error_stops_at_the_bad_input_keeping_the_lines_before_it(image_run, tmp_path, capsys):
    paths = _images(image_run, tmp_path / "images")
    output = tmp_path / "preds.jsonl"
    result = run_cli("predict", f"ckpt={image_run.ckpt}", f"input={tmp_path / 'images'}", f"output={output}",
                     "on_error=error")
    assert_clean_failure(result, "tformer-predict: error:", f"{paths[1]}: not a readable image", "on_error=skip")
    assert [row["input"] for row in _rows(output)] == paths[:1]
    assert _predict(image_run.ckpt, tmp_path / "images", output) == 2  # continues after a, now skipping b
    assert [("error" in row) for row in _rows(output)] == [False, True, False]


def test_no_output_file_is_left_when_nothing_was_written(image_run, tmp_path):
    _images(image_run, tmp_path / "images", names="ab", bad="ab")
    output = tmp_path / "preds.jsonl"
    with pytest.raises(ValueError, match="a.png: not a readable image"):
        _predict(image_run.ckpt, tmp_path / "images", output, on_error="error")
    assert not output.exists()
    output.write_text('{"input": "a.p', encoding="utf-8")  # a torn first line, from a killed run
    with pytest.raises(ValueError, match="a.png: not a readable image"):
        _predict(image_run.ckpt, tmp_path / "images", output, on_error="error")
    assert not output.exists()


def test_a_missing_input_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"input={tmp_path / 'nothing.txt'}: no such file or folder"):
        read_inputs(tmp_path / "nothing.txt", ())


def test_what_is_read_follows_the_tokenizers_file_suffixes(tmp_path):
    (tmp_path / "in.txt").write_text("a.png\n\n/abs/b.png\n", encoding="utf-8")
    (tmp_path / "pictures").mkdir()
    for name in ("b.PNG", "a.png", "notes.txt"):
        (tmp_path / "pictures" / name).write_bytes(b"")
    assert read_inputs(tmp_path / "in.txt", ()) == ["a.png", "", "/abs/b.png"]  # text: each line as it is
    assert read_inputs(tmp_path / "in.txt", (".png",)) == [str(tmp_path / "a.png"), "/abs/b.png"]  # paths
    assert read_inputs(tmp_path / "pictures", (".png",)) == [str(tmp_path / "pictures" / n) for n in ("a.png", "b.PNG")]
    assert read_inputs(tmp_path / "pictures" / "a.png", (".png",)) == [str(tmp_path / "pictures" / "a.png")]
    with pytest.raises(ValueError, match="is a folder; this checkpoint reads no files: give a text file"):
        read_inputs(tmp_path / "pictures", ())
    with pytest.raises(FileNotFoundError, match=r"holds no files this checkpoint reads \(\.wav\)"):
        read_inputs(tmp_path / "pictures", (".wav",))
