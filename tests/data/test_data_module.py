"""PreparedDataset, size estimates and the DataModule's loaders, alone and under a Lightning Trainer."""

import lightning as L
import pytest
import torch
from torch import nn

from tformer.data import DataModule, ParallelTextDataset, PreparedDataset, RawDataset, TokenBudgetBatchSampler
from tformer.data import estimate_sizes
from tformer.tokenizers.base import Batch

from .standins import CharIds, LabelIds


def corpus(tmp_path, n=60):
    de = [("wort " * (1 + i % 7)).strip() for i in range(n)]
    en = [("word " * (1 + i % 5)).strip() for i in range(n)]
    (tmp_path / "a.de").write_text("\n".join(de) + "\n")
    (tmp_path / "a.en").write_text("\n".join(en) + "\n")
    return ParallelTextDataset(tmp_path / "a.de", tmp_path / "a.en")


def test_prepared_dataset_skips_bad_items():
    raw = RawDataset({"source": ["ab", "BAD", "c"], "target": ["x", "y", "z"]})
    data = PreparedDataset(raw, {"source": CharIds(), "target": LabelIds()})
    assert data[1] is None and data.failures == 1
    batch = data.collate([data[0], data[1], data[2]])
    source, target = batch["source"], batch["target"]
    assert set(batch) == {"source", "target", "index"} and batch["index"].tolist() == [0, 2]  # which items it holds
    assert isinstance(source, Batch) and source.values.shape == (2, 3) and source.lengths.tolist() == [3, 2]
    assert target.values.shape == (2, 1)
    assert data.collate([data[1]])["source"].lengths.tolist() == [3]  # all failed: the first good item stands in


def test_prepared_dataset_reads_renamed_fields():
    raw = RawDataset({"source": ["ab", "c"], "target": ["xyz", "BAD"]})
    data = PreparedDataset(raw, {"text": CharIds()}, columns={"text": "target"})  # a language model on the target side
    assert data[0]["text"].tolist() == CharIds().prepare("xyz").tolist() and set(data[0]) == {"text", "index"}
    assert data[1] is None and data.failed_indices() == [1]
    assert data.describe_failure(1) == "item 1, text (BAD): ValueError: cannot prepare 'BAD'"


def test_estimate_sizes_tracks_prepared_lengths(tmp_path):
    raw = corpus(tmp_path)
    sizes = estimate_sizes(raw, {"source": CharIds(), "target": CharIds()})
    exact = [max(len(item["source"]) + 1, len(item["target"]) + 1) for item in (raw[i] for i in range(len(raw)))]
    assert all(abs(a - b) <= 0.2 * b + 1 for a, b in zip(sizes, exact))


def test_fixed_batches_and_valid_split(tmp_path):
    data = DataModule(corpus(tmp_path), batch_size=8, valid_fraction=0.1, seed=3)
    assert len(data.train) == 54 and len(data.valid) == 6
    assert not set(data.train.indices) & set(data.valid.indices)
    with pytest.raises(RuntimeError, match="attach"):
        data.train_dataloader()
    data.attach({"source": CharIds(), "target": CharIds()})
    batch = next(iter(data.train_dataloader()))
    assert batch["source"].values.shape[0] == 8 and batch["target"].lengths.shape == (8,)
    assert sum(len(batch["source"].lengths) for batch in data.val_dataloader()) == 6
    assert data.test_dataloader() == [] and data.predict_dataloader() == []


def test_token_budget_loader_with_a_worker(tmp_path):
    data = DataModule(corpus(tmp_path), max_tokens=60, num_workers=1, valid_fraction=0)
    data.attach({"source": CharIds(), "target": CharIds()})
    loader = data.train_dataloader()
    assert isinstance(loader.batch_sampler.batch_sampler, TokenBudgetBatchSampler) and loader.persistent_workers
    batches = list(loader)
    assert len(batches) == len(loader) and sum(len(batch["source"].lengths) for batch in batches) == 60
    for batch in batches:
        source, target = batch["source"], batch["target"]
        padded = max(source.values.shape[1], target.values.shape[1]) * len(source.lengths)
        assert padded <= 60 * 1.25  # the budget holds up to the size estimate's error


def test_a_task_field_reads_the_data_field_it_is_renamed_to(tmp_path):
    data = DataModule(corpus(tmp_path), max_tokens=60, valid_fraction=0, fields={"text": "target"})
    data.attach({"text": CharIds()})  # a language model on the English side
    assert (data.column_of("text"), data.column_of("source")) == ("target", "source")
    batches = list(data.train_dataloader())
    assert all(set(batch) == {"text", "index"} for batch in batches)
    lengths = sorted(n for batch in batches for n in batch["text"].lengths.tolist())
    assert lengths == sorted(len(text) + 1 for text in data.train.column("target"))


class CountingTask(L.LightningModule):
    """Sees every batch; the loss is a dummy on one parameter."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.items = []

    def training_step(self, batch, batch_idx):
        source = batch["source"]
        self.items.append(len(source.lengths))
        return (self.weight * source.values.float().mean()).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_under_a_lightning_trainer(tmp_path):
    data = DataModule(corpus(tmp_path), max_tokens=60, valid_fraction=0)
    data.attach({"source": CharIds(), "target": CharIds()})
    task = CountingTask()
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, datamodule=data)
    assert sum(task.items) == 120
    assert trainer.train_dataloader.batch_sampler.sampler.epoch == 1  # Lightning advanced the epoch
