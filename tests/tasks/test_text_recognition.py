"""Text recognition: the translation task with an image_line source, trained on a few drawn lines,
then loaded and asked to read image files of any size, through predict, tformer-predict and tformer-plot."""

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from PIL import Image

import tformer
from tests.data.text_lines_fixture import DEJAVU, line_images
from tests.plots.pictures import assert_picture
from tformer.cli import CONFIG_DIR
from tformer.cli.plot import main as plot
from tformer.cli.predict import predict_file
from tformer.cli.train import train
from tformer.plots import attention_for_input

from .conftest import compose_run

pytestmark = pytest.mark.skipif(not (DEJAVU / "DejaVuSans.ttf").is_file(), reason="fonts-dejavu-core is not installed")
TEXTS = ["Ja.", "Nein danke.", "Grüße aus Köln", "Where is it?", "Das Haus ist rot.", "a dog", "Öl und Wasser", "Tee"]


def _train(root, overrides=()):
    """A 2-step run (one epoch, one validation) of experiment=ocr_text_lines on eight lines drawn in DejaVu Sans."""
    manifest = line_images(root / "lines", TEXTS)
    cfg = compose_run(root, ["experiment=ocr_text_lines", "model=tiny", "trainer.max_time=null", "trainer.max_steps=2",
                             "task.max_len_offset=4", *overrides])
    with open_dict(cfg):
        for split in ("train", "valid", "test"):
            cfg.data[split] = {"_target_": "tformer.data.TextLinesDataset", "path": str(manifest)}
    task, result = train(cfg)
    return root, task, result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("ocr"))


@pytest.fixture(scope="module")
def trained_with_decoder(tmp_path_factory):
    """The recipe's reader with a decoder beside the CTC head, as the README's attention picture."""
    return _train(tmp_path_factory.mktemp("ocr_decoder"), ["model.n_decoder_layers=1", "task.objectives.ctc.weight=0.3",
                                                           "task.objectives.cross_entropy.weight=0.7"])


def test_the_recipe_trains_and_reports_cer_and_wer(trained):
    root, task, result = trained
    assert list(task.text_metrics["test"]) == ["cer", "wer"] and {"test/cer", "test/wer"} <= set(result["test"])
    assert json.loads((root / "run" / "metrics.json").read_text()) == result
    assert list((root / "run" / "checkpoints").glob("best-step*.ckpt"))  # the recipe keeps the lowest val/cer
    assert type(task.source).__name__ == "ImageLineTokenizer" and task.source.patch_width == 4
    assert type(task.generator).__name__ == "CtcGreedy"  # the CTC head reads; no decoder runs
    assert len(task.core.decoder.layers) == 0 and task.read_outputs == {"memory", "memory_pad_mask"}  # CTC alone trains


def test_a_loaded_checkpoint_reads_image_files_of_any_size(trained, tmp_path):
    root, task, result = trained
    loaded = tformer.load(result["checkpoint"])
    paths = [str(root / "lines" / f"{i}.png") for i in range(3)]
    assert loaded.predict(paths) == task.predict(paths)
    with Image.open(paths[2]) as line:  # the same line, twice as large and in colour: the same strips
        line.convert("RGB").resize((line.width * 2, line.height * 2), Image.LANCZOS).save(tmp_path / "big.jpg", quality=95)
    assert all(isinstance(text, str) for text in loaded.predict([str(tmp_path / "big.jpg"), np.full((8, 80), 255, np.uint8)]))
    Image.new("L", (3, 40), 255).save(tmp_path / "sliver.png")
    with pytest.raises(ValueError, match=r"sliver\.png: 3x40 pixels .* the smallest accepted is 4x32 pixels"):
        loaded.predict([str(tmp_path / "sliver.png")])


def test_tformer_predict_reads_a_list_of_line_images(trained, tmp_path):
    root, task, result = trained
    (tmp_path / "lines.txt").write_text("".join(f"{root / 'lines' / f'{i}.png'}\n" for i in range(4)))
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        predict_file(compose("predict", overrides=[f"ckpt={result['checkpoint']}", f"input={tmp_path / 'lines.txt'}",
                                                   f"output={tmp_path / 'out.jsonl'}"]))
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    paths = [str(root / "lines" / f"{i}.png") for i in range(4)]
    assert [row["input"] for row in rows] == paths and [row["prediction"] for row in rows] == task.predict(paths)


def test_attention_of_the_decoder_runs_along_the_strips_under_the_line(trained_with_decoder, tmp_path):
    root, _, result = trained_with_decoder
    line = str(root / "lines" / "4.png")
    task = tformer.load(result["checkpoint"])
    maps = attention_for_input(task, line, beam_size=1)
    strips = task.source.prepare(line).shape[-1] // 4
    assert maps.layout.grid == (1, strips) and maps.input_labels[:3] == ["0", "4", "8"]
    assert maps.cross[0].shape == (4, len(maps.target_outputs), strips) and maps.encoder[0].shape == (4, strips, strips)
    assert maps.input_unit == "source strip (4 px wide)"
    assert plot(["attention", "--ckpt", result["checkpoint"], "--input", line, "--beam-size", "1", "--head", "0", "-o",
                 str(tmp_path / "a.png")]) == 0
    assert_picture(tmp_path / "a.png")


def test_the_reader_without_a_decoder_shows_its_encoder_attention_along_the_line(trained, tmp_path):
    root, _, result = trained
    line = str(root / "lines" / "4.png")
    maps = attention_for_input(tformer.load(result["checkpoint"]), line, beam_size=1)
    strips = tformer.load(result["checkpoint"]).source.prepare(line).shape[-1] // 4
    assert maps.cross == [] and maps.decoder == [] and maps.encoder[0].shape == (4, strips, strips)
    assert plot(["attention", "--ckpt", result["checkpoint"], "--input", line, "--head", "0", "-o", str(tmp_path / "e.png")]) == 0
    assert_picture(tmp_path / "e.png")
