"""The faster-step switches reach what they switch: ``model.checkpoint_activations`` and
``model.packing`` every core,
``task.objectives.cross_entropy.chunk_size`` the objective, ``task.optimizer.fused/foreach`` the optimizer."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from tformer.cli import CONFIG_DIR
from tformer.core import Decoder, Encoder

CORE_TASKS = ["translation", "asr", "language_model", "classification", "retrieval", "tagging", "tts"]


def _compose(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides + ["run_dir=/tmp/unused"])


@pytest.mark.parametrize("model", sorted(p.stem for p in (Path(CONFIG_DIR) / "model").glob("*.yaml")))
def test_every_model_size_has_activation_checkpointing_and_packing_off(model):
    cfg = _compose([f"model={model}"])
    assert cfg.model.checkpoint_activations is False and cfg.model.packing is False


@pytest.mark.parametrize("task", CORE_TASKS)
def test_checkpoint_activations_reaches_every_stack_of_the_core(task):
    core = instantiate(_compose([f"task={task}", "model=tiny", "model.checkpoint_activations=true"]).task.core)
    stacks = [m for m in core.modules() if isinstance(m, (Encoder, Decoder))]
    assert stacks and all(stack.checkpoint_activations for stack in stacks)


@pytest.mark.parametrize("packing", ["true", "256"])
@pytest.mark.parametrize("task", CORE_TASKS)
def test_packing_reaches_every_stack_of_the_core(task, packing):
    core = instantiate(_compose([f"task={task}", "model=tiny", f"model.packing={packing}"]).task.core)
    stacks = [m for m in core.modules() if isinstance(m, (Encoder, Decoder))]
    assert stacks and all(stack.packing == {"true": True, "256": 256}[packing] for stack in stacks)


@pytest.mark.parametrize("task, field", [("translation", "target"), ("asr", "target"), ("language_model", "text")])
def test_chunk_size_reaches_the_cross_entropy(task, field):
    cfg = _compose([f"task={task}", "model=tiny", "target=text_char", "task.objectives.cross_entropy.chunk_size=64"])
    objective = instantiate(cfg.task.objectives.cross_entropy)
    assert objective.chunk_size == 64 and objective.field == field and objective.reads == ("hidden", "targets")


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_the_optimizers_leave_the_implementation_to_the_device(optimizer):
    node = _compose([f"task/optimizer={optimizer}"]).task.optimizer
    assert node.fused is None and node.foreach is None
