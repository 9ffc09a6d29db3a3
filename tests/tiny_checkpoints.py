"""Tiny trained runs shared by the plot, averaging and export tests: each trains once per session."""

from __future__ import annotations

from pathlib import Path

from tests import tiny_data
from tests.tasks.conftest import compose_run
from tformer.cli.train import train

_RUNS: dict[str, Path] = {}

# Every step checkpointed (for averaging), validation at step 2 (for curves and the attention callback).
_COMMON = ["callbacks=attention", "logger=all", "callbacks.checkpoint.every_n_train_steps=1",
           "trainer.val_check_interval=2", "examples=0"]


def _overrides(name: str, root: Path) -> list[str]:
    if name == "text":
        t = tiny_data.parallel_text(root)
        return ["task=translation", "source=text_bpe", "target=text_bpe", "data=parallel_text",
                f"data.train.source_path={t['train.de']}", f"data.train.target_path={t['train.en']}",
                "data.valid_fraction=0.1", "source.vocab_size=60", "target.vocab_size=60", "test=false"]
    if name == "image":
        folder = tiny_data.image_folder(root)
        return ["task=classification", "source=image_patch", "target=label", "data=image_folder",
                f"data.train.root={folder}", "source.image_size=16", "source.patch_size=4", "test=false"]
    if name == "audio":
        a = tiny_data.audio_manifest(root)
        return ["task=asr", "source=audio_fbank", "target=text_char", "data=audio_manifest",
                f"data.train.path={a['train']}", "test=false"]
    raise KeyError(name)


def trained_run(name: str, tmp_path_factory) -> Path:
    """The run directory of a 3-step tiny run: ``text`` (BPE de->en translation), ``image``
    (ViT classification, [CLS]) or ``audio`` (ASR); trained on first use, then reused."""
    if name not in _RUNS:
        root = tmp_path_factory.mktemp(f"tiny_{name}")
        cfg = compose_run(root, _overrides(name, root) + _COMMON)
        train(cfg)
        _RUNS[name] = root / "run"
    return _RUNS[name]
