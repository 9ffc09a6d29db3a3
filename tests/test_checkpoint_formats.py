"""Checkpoints written by earlier tformers still load: format 1 (one source, one target, the loss
and the search in the task's options; tests/fixtures/v1) rebuilds the same model, which predicts
what it predicted then and gives the same loss, and saves again in today's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import tformer
from tformer.checkpoint import FORMAT_VERSION, describe

V1 = Path(__file__).resolve().parent / "fixtures" / "v1"
EXPECTED = json.loads((V1 / "expected.json").read_text())


def _raw(name: str) -> list:
    return [str(V1 / i) if i.endswith((".png", ".wav")) else i for i in EXPECTED[name]["inputs"]]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_format_1_checkpoint_predicts_as_it_did(name):
    assert torch.load(V1 / f"{name}.ckpt", weights_only=True)["tformer"]["format_version"] == 1
    task = tformer.load(V1 / f"{name}.ckpt")
    assert task.predict(_raw(name)) == EXPECTED[name]["predictions"]


@pytest.mark.parametrize("name", list(EXPECTED))
@torch.no_grad()
def test_a_format_1_checkpoint_gives_the_loss_it_gave(name):
    task = tformer.load(V1 / f"{name}.ckpt")
    source, target = task.fields["source"], task.fields["target"]
    batch = {"source": source.collate([source.prepare(_raw(name)[0])]),
             "target": target.collate([target.prepare(EXPECTED[name]["reference"])])}
    assert float(task.loss(batch)[0]) == pytest.approx(EXPECTED[name]["loss"], rel=1e-5)


def test_format_1_parts_become_named_parts():
    asr = describe(tformer.load(V1 / "asr.ckpt"))
    assert asr["format_version"] == FORMAT_VERSION and asr["task"] == "translation"
    assert {name: spec["name"] for name, spec in asr["objectives"].items()} == {"cross_entropy": "cross_entropy", "ctc": "ctc"}
    assert asr["objectives"]["ctc"]["kwargs"]["weight"] == pytest.approx(0.3)
    assert asr["generator"]["name"] == "ctc_beam" and asr["options"]["metrics"] == ["wer", "cer"]
    shared = describe(tformer.load(V1 / "shared_vocabulary.ckpt"))
    assert shared["fields"]["target"] == {"same_as": "source"}
    assert describe(tformer.load(V1 / "classification.ckpt"))["generator"] is None


def test_a_format_1_checkpoint_saved_again_loads_in_todays_format(tmp_path):
    task = tformer.load(V1 / "translation.ckpt")
    checkpoint = torch.load(V1 / "translation.ckpt", weights_only=True)
    checkpoint["tformer"] = describe(task)
    checkpoint["state_dict"] = task.state_dict()
    torch.save(checkpoint, tmp_path / "again.ckpt")
    again = tformer.load(tmp_path / "again.ckpt")
    assert again.predict(_raw("translation")) == EXPECTED["translation"]["predictions"]
