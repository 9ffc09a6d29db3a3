from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from tests import tiny_data
from tformer.cli import CONFIG_DIR

FAST = [
    "model=tiny",
    "trainer.max_steps=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=2",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "data.batch_size=4",
    "data.num_workers=0",
    "examples=2",
    "task.scheduler.warmup_steps=2",
]


def compose_run(tmp_path: Path, overrides: list[str]):
    """A composed training config writing into ``tmp_path/run``."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=FAST + overrides + [f"run_dir={tmp_path / 'run'}"])


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Paths of every tiny data set, written once per test session."""
    root = tmp_path_factory.mktemp("tiny")
    for name in ("text", "tsv", "images", "audio"):
        (root / name).mkdir()
    return {
        "text": tiny_data.parallel_text(root / "text"),
        "tsv": tiny_data.labeled_text(root / "tsv"),
        "images": tiny_data.image_folder(root / "images"),
        "audio": tiny_data.audio_manifest(root / "audio"),
    }
