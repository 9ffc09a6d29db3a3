"""Fused or foreach Adam chosen by device: the same updates as torch's for-loop, the choice per device,
and gradient clipping that still works with a fused optimizer."""

import functools
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision, Precision

from tformer.core import EncoderDecoder
from tformer.tasks import TranslationTask
from tformer.tasks.optimizers import clip_fused, implementation, scales_and_clips, with_implementation
from tformer.tokenizers import Batch
from tformer.tokenizers.text import TextCharTokenizer

BF16 = MixedPrecision("bf16-mixed", "cpu")
ADAMW = functools.partial(torch.optim.AdamW, lr=1e-2, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.05)


def _steps(factory, device: str, steps: int = 5) -> list[torch.Tensor]:
    """Parameters of a small core after ``steps`` updates with made-up gradients (the same for every factory)."""
    torch.manual_seed(0)
    model = EncoderDecoder(16, 2, 1, 1, 32).to(device)
    optimizer = factory(model.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        for p in model.parameters():
            p.grad = torch.randn(p.shape, generator=g).to(device)
        optimizer.step()
    return [p.detach().cpu() for p in model.parameters()]


def _assert_same_updates(device: str, chosen: dict) -> None:
    reference = _steps(functools.partial(ADAMW, foreach=False), device)  # torch's for-loop
    for ours, theirs in zip(_steps(functools.partial(ADAMW, **chosen), device), reference):
        # float32 rounding in another order: after 5 steps at lr 1e-2 the fused kernel differs by 3e-8 on CPU
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chosen", [{"fused": True}, {"foreach": True}], ids=["fused", "foreach"])
def test_fused_and_foreach_adamw_update_as_the_for_loop_on_cpu(chosen):
    _assert_same_updates("cpu", chosen)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fused_adamw_updates_as_the_for_loop_on_cuda():
    _assert_same_updates("cuda", implementation("cuda"))


@pytest.mark.parametrize("device, chosen", [("cpu", {"fused": True}), ("cuda", {"fused": True}),
                                            ("cuda:1", {"fused": True}), ("mps", {"foreach": True}),
                                            ("meta", {"foreach": True})])
def test_the_implementation_follows_the_device(device, chosen):
    assert implementation(device) == chosen
    factory = with_implementation(functools.partial(torch.optim.Adam, lr=1.0, fused=None, foreach=None), device)
    assert {k: factory.keywords[k] for k in chosen} == chosen


@pytest.mark.parametrize("config", [{"fused": False}, {"foreach": False}, {"foreach": True}, {"fused": True}])
def test_a_choice_in_the_config_is_kept(config):
    factory = functools.partial(torch.optim.AdamW, lr=1e-3, **config)
    assert with_implementation(factory, "cpu") is factory


def test_other_optimizers_are_left_alone():
    factory = functools.partial(torch.optim.Adagrad, lr=1e-2)  # its fused kernel is CPU-only
    assert with_implementation(factory, "cuda") is factory


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_the_task_trains_with_a_fused_adamw_and_clips_its_gradients(precision):
    # Lightning's autocast plugin refuses to clip for a fused optimizer; bf16 has no GradScaler, so the task clips
    text = TextCharTokenizer(16, alphabet="abcdef", dropout=0.0)
    task = TranslationTask({"source": text, "target": text}, EncoderDecoder(16, 2, 1, 1, 32), val_decode=False,
                           optimizer=functools.partial(torch.optim.AdamW, lr=1e-3, fused=None, foreach=None))
    batch = {"source": Batch(torch.randint(4, 10, (2, 5)), torch.tensor([5, 3])),
             "target": Batch(torch.randint(4, 10, (2, 4)), torch.tensor([4, 2]))}
    trainer = L.Trainer(accelerator="cpu", max_steps=2, precision=precision, gradient_clip_val=1.0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, torch.utils.data.DataLoader([batch] * 2, batch_size=None))
    assert trainer.optimizers[0].defaults["fused"] is True and trainer.global_step == 2


def _fused_with_gradients(norm: float) -> torch.optim.Optimizer:
    parameters = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(4))]
    for p in parameters:
        p.grad = torch.full_like(p, norm / 7**0.5)  # a total norm of ``norm``
    return torch.optim.AdamW(parameters, fused=True)


@pytest.mark.parametrize("algorithm, expected", [(None, 1.0), ("norm", 1.0), ("value", 0.5 * 7**0.5)])
def test_fused_gradients_are_clipped_under_bf16_autocast(algorithm, expected):
    optimizer, trainer = _fused_with_gradients(3.0), SimpleNamespace(precision_plugin=BF16)
    assert clip_fused(trainer, optimizer, 1.0 if algorithm != "value" else 0.5, algorithm)
    norm = torch.cat([p.grad for group in optimizer.param_groups for p in group["params"]]).norm()
    assert float(norm) == pytest.approx(expected, rel=1e-6)


def test_elsewhere_lightning_clips():
    optimizer = _fused_with_gradients(3.0)
    assert not clip_fused(SimpleNamespace(precision_plugin=Precision()), optimizer, 1.0, "norm")  # float32
    assert not clip_fused(SimpleNamespace(precision_plugin=BF16), optimizer, None, None)  # no clipping asked
    unfused = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], foreach=True)
    assert not clip_fused(SimpleNamespace(precision_plugin=BF16), unfused, 1.0, "norm")


def test_gradients_scaled_and_clipped_take_foreach():
    # 16-mixed on a GPU: a GradScaler's gradients must be unscaled before clipping, a fused step unscales inside
    scaled = SimpleNamespace(precision_plugin=SimpleNamespace(scaler=object()), gradient_clip_val=1.0)
    assert scales_and_clips(scaled) and implementation("cuda", fused=False) == {"foreach": True}
    assert not scales_and_clips(SimpleNamespace(precision_plugin=scaled.precision_plugin, gradient_clip_val=None))
    assert not scales_and_clips(SimpleNamespace(precision_plugin=Precision(), gradient_clip_val=1.0))
