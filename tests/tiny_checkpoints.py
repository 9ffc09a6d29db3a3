"""Tiny trained runs shared by the plot, averaging and export tests: each trains once per session."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from omegaconf import OmegaConf

from tests import tiny_data
from tests.tasks.conftest import compose_run
from tformer.cli.train import train


class TinyRun(NamedTuple):
    """A trained run: its directory, its last checkpoint and one raw input its task takes."""

    run: Path
    ckpt: Path
    sample: str


_RUNS: dict[str, TinyRun] = {}

# Every step checkpointed (for averaging), validation at step 2 (for curves and the attention callback).
# The text run also draws attention maps into TensorBoard.
_COMMON = ["callbacks.checkpoint.every_n_train_steps=1", "trainer.val_check_interval=2", "test=false", "examples=0"]
_SHORT = ["task.max_len_offset=8"]  # untrained decoders repeat a token until the length limit


def _overrides(name: str, root: Path) -> tuple[list[str], str]:
    # (overrides, a raw input)
    if name == "text":
        t = tiny_data.parallel_text(root)
        return ["callbacks=attention", "logger=all",
                "task=translation", "source=text_bpe", "target=text_bpe", "data=parallel_text",
                f"data.train.source_path={t['train.de']}", f"data.train.target_path={t['train.en']}",
                "data.valid_fraction=0.1", "source.vocab_size=60", "target.vocab_size=60", *_SHORT], "ich sehe das haus"
    if name == "image":
        folder = tiny_data.image_folder(root)
        return ["task=classification", "source=image_patch", "target=label", "data=image_folder",
                f"data.train.root={folder}", "source.image_size=16", "source.patch_size=4"], str(folder / "dark" / "0.png")
    if name == "audio":
        a = tiny_data.audio_manifest(root)
        return ["task=asr", "source=audio_fbank", "target=text_char", "data=audio_manifest",
                f"data.train.path={a['train']}", *_SHORT], str(root / "test_0.wav")
    if name == "tts":
        return tts_overrides(root / "data"), "one two"
    raise KeyError(name)


def tts_overrides(root: Path) -> list[str]:
    """A tiny tts run on espeak digit strings synthesized into ``root`` (10 clips, about 1 s of
    synthesis; needs espeak-ng): words in, 0.5 s of frames out (the stop token is never trusted)."""
    sizes = ["valid_size=2", "test_size=2"]
    data = [f"+data.{split}.{option}" for split in ("train", "valid", "test") for option in [f"root={root}", *sizes]]
    return ["task=tts", "source=text_char", "target=mel", "data=espeak_digits", "data.train.train_size=6", *data,
            "data.fields={source: target, target: source}", "data.max_tokens=null", "+source.alphabet='abcdefghijklmnopqrstuvwxyz '",
            "target.reduction=2", "target.prenet_dim=16", "task.postnet_channels=8", "task.max_seconds=0.5",
            "task.stop_threshold=1.0"]


def trained_run(name: str, tmp_path_factory) -> TinyRun:
    """A 3-step tiny run: ``text`` (BPE de->en translation), ``image`` (ViT classification with
    [CLS]), ``audio`` (ASR) or ``tts`` (text to speech); trained on first use in a test session,
    then reused."""
    if name not in _RUNS:
        root = tmp_path_factory.mktemp(f"tiny_{name}")
        overrides, sample = _overrides(name, root)
        cfg = compose_run(root, overrides + _COMMON)
        train(cfg)
        run = root / "run"
        (run / ".hydra").mkdir()
        OmegaConf.save(cfg, run / ".hydra" / "config.yaml")  # as tformer-train's Hydra writes it
        _RUNS[name] = TinyRun(run, run / "checkpoints" / "last.ckpt", sample)
    return _RUNS[name]
