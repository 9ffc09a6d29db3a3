"""What keeps a GPU fed: memory pinned when the trainer runs on CUDA, workers' prefetch, and pinned
batches moved to the GPU without waiting."""

from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator

from tformer.data import DataModule
from tformer.tokenizers import Batch

from .standins import CharIds

RAW = [{"source": "abc", "target": "x"}, {"source": "de", "target": "y"}] * 4


def _data(**options) -> DataModule:
    data = DataModule(RAW, valid_fraction=0, batch_size=2, **options)
    data.attach({"source": CharIds(), "target": CharIds()})
    return data


@pytest.mark.parametrize("accelerator, pinned", [(None, False), (CPUAccelerator(), False), (CUDAAccelerator(), True)])
def test_auto_pins_memory_only_for_a_cuda_trainer(accelerator, pinned):
    data = _data()
    if accelerator is not None:
        data.trainer = SimpleNamespace(accelerator=accelerator)
    assert data.pin_memory == "auto" and data.pins_memory() is pinned


def test_an_explicit_choice_wins_and_a_wrong_one_is_named():
    data = _data(pin_memory=False)
    data.trainer = SimpleNamespace(accelerator=CUDAAccelerator())
    assert data.pins_memory() is False
    with pytest.raises(ValueError, match="data.pin_memory='yes': choose true, false or auto"):
        _data(pin_memory="yes")


def test_the_prefetch_factor_reaches_the_workers_loader():
    assert _data(num_workers=1, prefetch_factor=4).train_dataloader().prefetch_factor == 4
    assert _data(num_workers=1).train_dataloader().prefetch_factor == 2  # torch's default


def test_a_batch_waits_for_its_copy_unless_it_comes_pinned_to_a_gpu(monkeypatch):
    batch = Batch(torch.tensor([[4, 5]]), torch.tensor([2]))
    calls = []
    monkeypatch.setattr(torch.Tensor, "to", lambda self, device, non_blocking=False: calls.append(non_blocking) or self)
    batch.to("cpu")
    monkeypatch.setattr(torch.Tensor, "is_pinned", lambda self: True)
    batch.to("cpu")  # pinned, but to the CPU: nothing to overlap
    batch.to("cuda")
    batch.to("cuda", non_blocking=False)
    assert calls == [False, False, False, False, True, True, False, False]
