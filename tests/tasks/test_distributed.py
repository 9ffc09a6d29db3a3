"""DDP with two CPU processes (gloo): every task trains, and its test metrics, gathered across
processes by torchmetrics (retrieval: the embeddings of the whole split, gathered), equal a
one-process evaluation of the same checkpoint."""

import json
import os
import subprocess
import sys

import pytest

COMMON = [
    "model=tiny", "trainer.max_steps=3", "trainer.enable_progress_bar=false", "data.batch_size=4",
    "data.num_workers=0", "examples=0", "task.scheduler.warmup_steps=2", "trainer.limit_val_batches=1",
]


def _overrides(name, tiny, tmp_path):
    if name == "classification":
        t = tiny["tsv"]
        return ["task=classification", "source=text_char", "target=label", "data=labeled_text",
                f"data.train.path={t['train']}", f"+data.test={{_target_: tformer.data.LabeledTextDataset, path: {t['test']}}}"]
    if name == "translation":
        t = tiny["text"]
        return ["task=translation", "source=text_char", "target=text_char", "data=parallel_text",
                f"data.train.source_path={t['train.de']}", f"data.train.target_path={t['train.en']}",
                f"+data.test={{_target_: tformer.data.ParallelTextDataset, source_path: {t['test.de']}, target_path: {t['test.en']}}}"]
    if name == "retrieval":  # 9 test pairs: the second process repeats one, which the gathered ranks must drop
        t = tiny["text"]
        for lang in ("de", "en"):
            (tmp_path / f"test.{lang}").write_text("".join(t[f"train.{lang}"].read_text().splitlines(keepends=True)[:9]))
        return ["task=retrieval", "source=text_char", "target=text_char", "shared_vocabulary=true", "data=parallel_text",
                f"data.train.source_path={t['train.de']}", f"data.train.target_path={t['train.en']}",
                f"+data.test={{_target_: tformer.data.ParallelTextDataset, source_path: {tmp_path / 'test.de'}, target_path: {tmp_path / 'test.en'}}}"]
    a = tiny["audio"]
    return ["task=asr", "source=audio_fbank", "target=text_char", "data=audio_manifest", f"data.train.path={a['train']}",
            f"+data.test={{_target_: tformer.data.ManifestDataset, path: {a['test']}}}"]


def _train(args, run_dir):
    command = [sys.executable, "-m", "tformer.cli.train", *args, f"hydra.run.dir={run_dir}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["classification", "translation", "asr", "retrieval"])
def test_two_process_ddp_matches_one_process_evaluation(name, tiny, tmp_path):
    args = COMMON + _overrides(name, tiny, tmp_path)
    ddp = _train(args + ["trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu"], tmp_path / "ddp")
    single = _train(args + [f"ckpt_path={ddp['checkpoint']}"], tmp_path / "single")
    assert ddp["test"].keys() == single["test"].keys() and ddp["test"]
    for key, value in ddp["test"].items():
        if name == "retrieval" and "loss" in key:
            continue  # in-batch negatives: the contrastive loss depends on which pairs share a batch
        assert value == pytest.approx(single["test"][key], rel=1e-5, abs=1e-6), key
