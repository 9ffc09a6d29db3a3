"""Throughput and MFU in every run: the peak table, the callback's arithmetic, a tiny tformer-train run."""

import csv
import json
import math
import time

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from tests import tiny_data
from tests.tasks.conftest import compose_run
from tformer import peaks
from tformer.cli.train import train
from tformer.throughput import ThroughputMonitor

NAMES = ["train/tokens_per_s", "train/padding_fraction", "train/tflops", "train/mfu"]


@pytest.mark.parametrize("name, precision, expected", [
    ("NVIDIA H100 80GB HBM3", "bf16", 989), ("NVIDIA H100 PCIe", "fp16", 756), ("NVIDIA H200", "bf16", 989),
    ("NVIDIA H200 NVL", "bf16", 836), ("NVIDIA A100-SXM4-80GB", "tf32", 156), ("NVIDIA A100 80GB PCIe", "fp32", 19.5),
    ("NVIDIA L4", "bf16", 121), ("NVIDIA A10G", "bf16", 125), ("NVIDIA GeForce RTX 4090", "bf16", 165.2),
    ("Tesla V100-SXM2-16GB", "fp16", 125), ("Tesla V100-SXM2-16GB", "tf32", 15.7), ("Tesla T4", "fp16", 65),
    ("Tesla T4", "bf16", None), ("NVIDIA L40S", "bf16", None), ("NVIDIA H100 NVL", "bf16", None),
])
def test_gpu_peak_by_device_name(name, precision, expected):
    assert peaks.gpu_peak_tflops(name, precision) == expected


def test_precision_in_use_and_the_gpu_peak_it_picks(monkeypatch):
    assert [peaks.compute_precision(p, "cuda") for p in ("bf16-mixed", "16-mixed", "32-true", "64-true")] == \
        ["bf16", "fp16", "tf32" if torch.get_float32_matmul_precision() != "highest" else "fp32", "fp64"]
    assert peaks.compute_precision("32-true", "cpu") == "fp32"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert peaks.device_peak_tflops(torch.device("cuda"), "bf16-mixed") == (989, "NVIDIA H200, bf16 dense (spec sheet)")


def test_cpu_peak_is_measured_once_per_thread_count():
    first = peaks.cpu_peak_tflops(size=256)
    assert 0 < first < 100 and peaks.cpu_peak_tflops(size=256) == first
    value, source = peaks.device_peak_tflops(torch.device("cpu"), "32-true")
    assert value > 0 and "measured" in source


class _Counted(L.LightningModule):
    """Known tokens and FLOPs per batch; each update sleeps ``STEP`` seconds, each validation ``PAUSE``."""

    STEP, PAUSE, TOKENS, POSITIONS, FLOPS = 0.05, 0.5, 19, 27, 6_000_000

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        time.sleep(self.STEP)
        return self.layer(batch[0]).sum()

    def validation_step(self, batch, batch_idx):
        time.sleep(self.PAUSE)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def token_counts(self, batch):
        return torch.tensor(self.TOKENS), torch.tensor(self.POSITIONS)

    def flops(self, batch):
        return torch.tensor(self.FLOPS)


def test_callback_averages_over_updates_without_validation_time(tmp_path):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(40, 2)), batch_size=2)
    monitor = ThroughputMonitor(skip_steps=2, window=4, peak_tflops=0.5)
    trainer = L.Trainer(max_steps=10, log_every_n_steps=2, val_check_interval=2, limit_val_batches=1,
                        num_sanity_val_steps=0, logger=CSVLogger(tmp_path), callbacks=[monitor],
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(_Counted(), data, data)
    with open(tmp_path / "lightning_logs" / "version_0" / "metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["train/tokens_per_s"]]
    assert [int(r["step"]) for r in rows] == [3, 5, 7, 9]  # logged at updates 4, 6, 8, 10, timed from update 2
    for row in rows:
        tokens_per_s, tflops, mfu = (float(row[k]) for k in ("train/tokens_per_s", "train/tflops", "train/mfu"))
        assert float(row["train/padding_fraction"]) == pytest.approx(1 - 19 / 27)
        assert tflops * 1e12 / tokens_per_s == pytest.approx(_Counted.FLOPS / _Counted.TOKENS)
        assert mfu == pytest.approx(tflops / 0.5)
        # no faster than the sleep allows; validation (0.5 s every 2 updates) not counted as training time
        assert 19 / 0.05 / 3 < tokens_per_s <= 19 / 0.05
    summary = monitor.summary()
    assert summary["updates"] == 8 and summary["peak_tflops"] == 0.5
    assert summary["padding_fraction"] == pytest.approx(1 - 19 / 27)


def test_a_run_shorter_than_a_logging_interval_still_has_a_summary(tmp_path):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(40, 2)), batch_size=2)
    monitor = ThroughputMonitor(skip_steps=1, window=4)
    trainer = L.Trainer(max_steps=5, log_every_n_steps=50, logger=False, callbacks=[monitor], enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(_Counted(), data)
    summary = monitor.summary()
    assert summary["updates"] == 4 and 0 < summary["tokens_per_s"] <= 19 / 0.05
    assert summary["mfu"] == pytest.approx(summary["tflops"] / summary["peak_tflops"]) and "measured" in summary["peak"]


def test_tiny_run_logs_throughput_and_mfu(tmp_path):
    t = tiny_data.parallel_text(tmp_path)
    cfg = compose_run(tmp_path, [
        "task=translation", "source=text_char", "target=text_char", "data=parallel_text",
        f"data.train.source_path={t['train.de']}", f"data.train.target_path={t['train.en']}",
        "trainer.max_steps=6", "callbacks.throughput.skip_steps=1", "test=false", "examples=0",
    ])
    _, result = train(cfg)
    with open(tmp_path / "run" / "metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train/mfu")]
    assert rows, "no row holds the throughput"
    for row in rows:
        values = {name: float(row[name]) for name in NAMES}
        assert all(math.isfinite(v) for v in values.values()), values
        assert values["train/tokens_per_s"] > 0 and values["train/tflops"] > 0
        assert 0 < values["train/padding_fraction"] < 1  # sentences of 2-5 words padded to the longest
        assert 0 < values["train/mfu"] <= 1
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["throughput"]["updates"] == 5 and "measured" in written["throughput"]["peak"]
    assert 0 < written["throughput"]["mfu"] <= 1
