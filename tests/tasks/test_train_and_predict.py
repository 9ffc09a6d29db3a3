"""One tiny training run per task and source modality, then load + predict as a user would."""

import json

import pytest
import torch

import tformer
from tformer.cli.train import train

from .conftest import compose_run


def _text(tiny, src="text_char", tgt="text_char"):
    t = tiny["text"]
    return [
        "task=translation", f"source={src}", f"target={tgt}", "data=parallel_text",
        f"data.train.source_path={t['train.de']}", f"data.train.target_path={t['train.en']}",
        f"+data.test={{_target_: tformer.data.text.ParallelTextDataset, source_path: {t['test.de']}, target_path: {t['test.en']}}}",
        "source.vocab_size=60" if src == "text_bpe" else "source.positions=sinusoidal",
        "target.vocab_size=60" if tgt == "text_bpe" else "target.positions=sinusoidal",
    ]


def _manifest(tiny, task, target, label_key="text"):
    a = tiny["audio"]
    return [
        f"task={task}", "source=audio_fbank", f"target={target}", "data=audio_manifest",
        f"data.train.path={a['train']}", f"data.train.label_key={label_key}",
        f"+data.test={{_target_: tformer.data.audio.ManifestDataset, path: {a['test']}, label_key: {label_key}}}",
    ]


def _images(tiny, task, target):
    root = tiny["images"]
    return [
        f"task={task}", "source=image_patch", f"target={target}", "data=image_folder",
        f"data.train.root={root}", f"+data.test={{_target_: tformer.data.images.ImageFolderDataset, root: {root}}}",
        "source.image_size=16", "source.patch_size=4",
    ]


def _tsv(tiny):
    t = tiny["tsv"]
    return [
        "task=classification", "source=text_bpe", "target=label", "data=labeled_text",
        f"data.train.path={t['train']}", f"+data.test={{_target_: tformer.data.text.LabeledTextDataset, path: {t['test']}}}",
        "source.vocab_size=40",
    ]


RUNS = {
    "translation_text_char": (lambda tiny: _text(tiny), "test/bleu"),
    "translation_text_bpe": (lambda tiny: _text(tiny, "text_bpe", "text_bpe"), "test/bleu"),
    "translation_shared_vocabulary": (lambda tiny: _text(tiny, "text_bpe", "text_bpe") + ["shared_vocabulary=true"], "test/bleu"),
    "classification_text": (_tsv, "test/acc"),
    "classification_image": (lambda tiny: _images(tiny, "classification", "label"), "test/acc"),
    "keyword_spotting_audio": (lambda tiny: _manifest(tiny, "classification", "label", "label"), "test/f1"),
    "asr_audio": (lambda tiny: _manifest(tiny, "asr", "text_char"), "test/wer"),
    "captioning_image": (lambda tiny: _images(tiny, "translation", "text_char"), "test/bleu"),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_train_test_save_load_predict(name, tiny, tmp_path):
    overrides, metric = RUNS[name]
    cfg = compose_run(tmp_path, overrides(tiny))
    task, result = train(cfg)

    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written == result and metric in written["test"]
    assert torch.isfinite(torch.tensor(written["test"][f"test/loss"]))
    assert written["checkpoint"].endswith("last.ckpt")

    data_test = __import__("hydra").utils.instantiate(cfg.data.test)
    inputs = [data_test[i]["source"] for i in range(min(4, len(data_test)))]
    before = task.predict(inputs)
    loaded = tformer.load(written["checkpoint"])
    assert type(loaded) is type(task) and not loaded.training
    assert loaded.predict(inputs) == before
    assert loaded.predict([]) == []
    # the run directory works as well as the file
    assert tformer.load(tmp_path / "run").predict(inputs[:1]) == before[:1]


def test_shared_vocabulary_is_one_tokenizer_fitted_on_both_sides(tiny, tmp_path):
    task, result = train(compose_run(tmp_path, _text(tiny, "text_bpe", "text_bpe") + ["shared_vocabulary=true", "test=false"]))
    assert task.source is task.target
    lines = [line for side in ("train.de", "train.en") for line in open(tiny["text"][side], encoding="utf-8").read().splitlines()]
    assert all(task.target.unk_id not in task.target.prepare(line).tolist() for line in lines)  # both languages covered
    # one embedding (tied to the output projection) besides the core
    weights = sum(p.numel() for p in task.parameters())
    assert weights == sum(p.numel() for p in task.core.parameters()) + task.target.embedding.weight.numel()
    loaded = tformer.load(result["checkpoint"])
    assert loaded.source is loaded.target
    torch.testing.assert_close(loaded.source.embedding.weight, task.source.embedding.weight)


def test_shared_vocabulary_needs_the_same_tokenizer_on_both_sides(tiny, tmp_path):
    overrides = _text(tiny, "text_bpe", "text_bpe") + ["shared_vocabulary=true", "target.vocab_size=50"]
    with pytest.raises(ValueError, match="source and target differ in: vocab_size"):
        train(compose_run(tmp_path, overrides))


@pytest.mark.parametrize("every", [1, 2])
def test_the_reported_checkpoint_holds_the_final_step(every, tiny, tmp_path):
    # every 2 updates with max_steps=3: the callback's last save is a step behind, so train() saves anew
    overrides = _text(tiny) + ["test=false", "examples=0", "callbacks.checkpoint.save_on_train_epoch_end=false",
                               f"callbacks.checkpoint.every_n_train_steps={every}"]
    task, result = train(compose_run(tmp_path, overrides))
    assert task.trainer.global_step == 3
    assert torch.load(result["checkpoint"], weights_only=True)["global_step"] == 3
    saved = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("step*.ckpt"))
    assert saved == (["step000001.ckpt", "step000002.ckpt", "step000003.ckpt"] if every == 1 else ["step000002.ckpt"])


def test_a_run_without_loggers_trains(tiny, tmp_path):
    # logger=none: the default callbacks include a learning-rate monitor, which needs a logger
    task, result = train(compose_run(tmp_path, _images(tiny, "classification", "label") + ["logger=none"]))
    assert task.trainer.global_step == 3 and task.trainer.loggers == [] and "test/acc" in result["test"]


def test_a_packed_run_trains_and_tests_like_any_other(tiny, tmp_path):
    # model.packing through tformer-train: packed training steps, packed teacher-forced validation, cached decoding
    task, result = train(compose_run(tmp_path, _text(tiny) + ["model.packing=true", "trainer.precision=bf16-mixed"]))
    assert task.core.encoder.packing is True and task.core.decoder.packing is True
    assert task.trainer.global_step == 3 and "test/bleu" in result["test"] and "test/loss" in result["test"]
