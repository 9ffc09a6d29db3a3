"""AttentionMapLogger: images in TensorBoard during validation; nothing without TensorBoard."""

from types import SimpleNamespace

import pytest
from lightning.pytorch.loggers import CSVLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import tformer.callbacks as callbacks
from tformer.callbacks import AttentionMapLogger
from tests.tiny_checkpoints import trained_run


def test_validation_attention_images_reach_tensorboard(tmp_path_factory):
    run = trained_run("text", tmp_path_factory).run  # trained with callbacks=attention logger=all
    (events,) = (run / "tensorboard").glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events), size_guidance={"images": 0})
    accumulator.Reload()
    assert {"attention/sample_0", "attention/sample_1"} <= set(accumulator.Tags()["images"])
    image = accumulator.Images("attention/sample_0")[0]
    assert image.step == 2 and image.width > 100 and image.height > 100


def test_without_tensorboard_it_does_nothing(tmp_path):
    callback = AttentionMapLogger(every_n_val=1, n_samples=2)
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, global_step=0,
                              loggers=[CSVLogger(tmp_path)])
    callback.on_validation_epoch_start(trainer, None)
    # a module of None would fail if the callback tried to draw
    callback.on_validation_batch_end(trainer, None, None, (None, None), 0)
    assert callback.validations == 1


class FSDPStrategy:
    """Stands in for Lightning's FSDP strategy (only its name is looked at)."""


@pytest.mark.parametrize("strategy, expected", [(object(), [0, 2, 4]), (FSDPStrategy(), [])])
def test_every_n_val_and_no_drawing_under_fsdp(strategy, expected, monkeypatch):
    drawn = []
    callback = AttentionMapLogger(every_n_val=2)
    monkeypatch.setattr(callback, "_log", lambda writer, task, batch, step: drawn.append(step))
    monkeypatch.setattr(callbacks, "_tensorboard", lambda trainer: SimpleNamespace())
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, global_step=0, loggers=[], strategy=strategy)
    for step in range(5):
        trainer.global_step = step
        callback.on_validation_epoch_start(trainer, None)
        callback.on_validation_batch_end(trainer, None, None, (None, None), 0)
    assert drawn == expected
