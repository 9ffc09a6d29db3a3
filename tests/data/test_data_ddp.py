"""The token-budget loader under real DDP: 2 CPU processes (gloo), Lightning's sampler injection on."""

import json

import lightning as L
import pytest
import torch
from torch import nn
from torch.multiprocessing.spawn import ProcessExitedException

from tformer.data import DataModule, ParallelTextDataset

from .standins import CharIds


class GatheringTask(L.LightningModule):
    """Writes, per epoch, how many items and batches each rank saw (rank 0 writes ``out``)."""

    def __init__(self, out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.out = out
        self.seen = []
        self.per_epoch = []

    def training_step(self, batch, batch_idx):
        source = batch["source"]
        self.seen.append(len(source.lengths))
        return (self.weight * source.values.float().mean()).sum()

    def on_train_epoch_end(self):
        counts = torch.tensor([float(sum(self.seen)), float(len(self.seen))])
        self.per_epoch.append(self.all_gather(counts).tolist())
        self.seen = []
        if self.global_rank == 0:
            self.out.write_text(json.dumps(self.per_epoch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


@pytest.mark.slow
def test_two_ranks_equal_batches_and_full_coverage(tmp_path):
    n = 61
    (tmp_path / "a.de").write_text("\n".join(("wort " * (1 + i % 7)).strip() for i in range(n)) + "\n")
    (tmp_path / "a.en").write_text("\n".join(("word " * (1 + i % 5)).strip() for i in range(n)) + "\n")
    data = DataModule(ParallelTextDataset(tmp_path / "a.de", tmp_path / "a.en"), max_tokens=60, valid_fraction=0)
    data.attach({"source": CharIds(), "target": CharIds()})
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    try:
        trainer.fit(GatheringTask(tmp_path / "seen.json"), datamodule=data)
    except ProcessExitedException as error:
        # gloo's threads can abort a spawned worker as it exits ("terminate called without an
        # active exception", SIGABRT) after training ended; only that is tolerated: both epochs
        # must have been gathered and written.
        written = (tmp_path / "seen.json").read_text() if (tmp_path / "seen.json").exists() else "[]"
        if error.signal_name != "SIGABRT" or len(json.loads(written)) != 2:
            raise
    epochs = json.loads((tmp_path / "seen.json").read_text())
    assert len(epochs) == 2
    for (items0, batches0), (items1, batches1) in epochs:
        assert batches0 == batches1  # no rank waits for another
        assert n <= items0 + items1 <= n + 20  # every item once, plus at most one padding batch
