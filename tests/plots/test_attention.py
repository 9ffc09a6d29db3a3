"""tformer-plot attention for text, image and audio checkpoints, and the weights behind it."""

import pytest
import torch

import tformer
from tformer.cli.plot import main
from tformer.core import Decoder, Encoder
from tformer.plots import attention_figure, attention_for_input, save_figure
from tformer.tasks import ClassificationTask, Greedy
from tformer.tokenizers import ImagePatchTokenizer, LabelTokenizer
from tests.tiny_checkpoints import trained_run

from .pictures import assert_picture


@pytest.mark.parametrize("name", ["text", "image", "audio"])
def test_attention_picture_per_source_modality(name, tmp_path, tmp_path_factory):
    tiny = trained_run(name, tmp_path_factory)
    out = tmp_path / f"{name}.png"
    assert main(["attention", "--ckpt", str(tiny.ckpt), "--input", tiny.sample, "--beam-size", "1", "-o", str(out)]) == 0
    width, height = assert_picture(out)
    one = tmp_path / f"{name}_one.png"
    main(["attention", "--ckpt", str(tiny.run), "--input", tiny.sample, "--layer", "-1", "--head", "0", "-o", str(one)])
    assert assert_picture(one)[0] < width  # one head is narrower than all heads


def test_text_maps_have_the_tokens_and_normalized_rows(tmp_path_factory):
    tiny = trained_run("text", tmp_path_factory)
    task = tformer.load(tiny.ckpt)
    maps = attention_for_input(task, tiny.sample, beam_size=1)
    ids = task.source.prepare(tiny.sample).tolist()
    assert maps.input_labels == [task.source.hf_tokenizer.id_to_token(i) for i in ids]
    assert maps.input_unit == "source token" and maps.layout is None
    assert len(maps.encoder) == 2 and maps.encoder[0].shape == (4, len(ids), len(ids))
    T = len(maps.target_inputs)
    assert maps.target_inputs[0] == "<bos>" and maps.target_outputs[-1] == "<eos>"
    assert maps.decoder[0].shape == (4, T, T) and maps.cross[0].shape == (4, T, len(ids))
    for w in maps.encoder + maps.decoder + maps.cross:
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    assert torch.all(maps.decoder[0].triu(1) == 0)  # causal
    task.generator = Greedy()
    assert maps.output == task.predict([tiny.sample])[0]


def test_image_without_cls_draws_mean_attention(tmp_path):
    fields = {"source": ImagePatchTokenizer(d_model=32, image_size=16, patch_size=4, class_token=False),
              "target": LabelTokenizer(classes=["a", "b"])}
    task = ClassificationTask(fields, Encoder(32, 4, 1, 64), pooling="mean").eval()
    maps = attention_for_input(task, torch.rand(1, 16, 16))
    assert maps.layout.n_prefix == 0 and maps.layout.grid == (4, 4) and maps.output in ("a", "b")
    assert maps.input_labels[:2] == ["0,0", "0,1"] and maps.input_unit == "source patch (row, column)"
    assert_picture(save_figure(attention_figure(maps), tmp_path / "mean.png"))


@pytest.mark.parametrize("argv, message", [
    (["--layer", "7"], "--layer 7 is out of range"),
    (["--head", "-9"], "--head -9 is out of range"),
])
def test_bad_layer_or_head_is_exit_2(argv, message, tmp_path, tmp_path_factory, capsys):
    tiny = trained_run("image", tmp_path_factory)
    with pytest.raises(SystemExit) as exit_:
        main(["attention", "--ckpt", str(tiny.ckpt), "--input", tiny.sample, "-o", str(tmp_path / "a.png"), *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_missing_media_file_names_what_the_source_takes(tmp_path, tmp_path_factory, capsys):
    tiny = trained_run("audio", tmp_path_factory)
    with pytest.raises(SystemExit):
        main(["attention", "--ckpt", str(tiny.ckpt), "--input", "nope.wav", "-o", str(tmp_path / "a.png")])
    assert "nope.wav: no such file; this checkpoint's source field reads .wav, .flac" in capsys.readouterr().err


def test_audio_axes_are_encoder_frames(tmp_path_factory):
    tiny = trained_run("audio", tmp_path_factory)
    maps = attention_for_input(tformer.load(tiny.ckpt), tiny.sample, beam_size=1)
    assert maps.input_unit == "source encoder frame (40 ms each)"
    assert maps.input_labels == [str(i) for i in range(maps.encoder[0].size(-1))]


class LanguageModelTask:
    """Stands in for a decoder-only task, whose attention is not drawn yet."""

    core = Decoder(16, 2, 1, 32, cross_attention=False)


def test_a_task_without_an_encoder_is_named():
    with pytest.raises(ValueError, match=r"LanguageModelTask \(a Decoder core\) is not supported yet"):
        attention_for_input(LanguageModelTask(), "some text")
