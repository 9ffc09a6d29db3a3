"""AttentionMapLogger: images in TensorBoard during validation; nothing without TensorBoard."""

from types import SimpleNamespace

from lightning.pytorch.loggers import CSVLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

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


def test_every_n_val_skips_validations(tmp_path):
    drawn = []
    callback = AttentionMapLogger(every_n_val=2)
    callback._log = lambda writer, task, source, step: drawn.append(step)
    writer = SimpleNamespace()
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, global_step=0, loggers=[])
    import tformer.callbacks as callbacks

    original, callbacks._tensorboard = callbacks._tensorboard, lambda trainer: writer
    try:
        for step in range(5):
            trainer.global_step = step
            callback.on_validation_epoch_start(trainer, None)
            callback.on_validation_batch_end(trainer, None, None, (None, None), 0)
    finally:
        callbacks._tensorboard = original
    assert drawn == [0, 2, 4]
