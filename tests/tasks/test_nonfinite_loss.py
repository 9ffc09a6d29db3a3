"""A batch whose loss is NaN or inf is skipped (no update), counted and logged; training goes on."""

import torch

from tformer.tasks.classification import ClassificationTask
from tformer.cli.train import train

from .conftest import compose_run


def test_nan_batch_is_skipped_and_counted(tiny, tmp_path, monkeypatch):
    original = ClassificationTask.loss
    calls = {"train": 0}

    def poisoned(self, batch):
        loss, losses, outputs = original(self, batch)
        if self.training:
            calls["train"] += 1
            if calls["train"] == 2:
                return loss * float("nan"), losses, outputs
        return loss, losses, outputs

    monkeypatch.setattr(ClassificationTask, "loss", poisoned)
    t = tiny["tsv"]
    cfg = compose_run(tmp_path, ["task=classification", "source=text_char", "target=label", "data=labeled_text",
                                 f"data.train.path={t['train']}", "test=false", "trainer.max_steps=3"])
    task, result = train(cfg)
    assert result["skipped_batches"] == 1 and task.skipped_batches == 1
    assert calls["train"] == 3 == task.trainer.global_step  # the skipped batch counts as a step without update
    assert all(torch.isfinite(p).all() for p in task.parameters())
    logged = (tmp_path / "run" / "metrics.csv").read_text()
    assert "train/skipped_batches" in logged
