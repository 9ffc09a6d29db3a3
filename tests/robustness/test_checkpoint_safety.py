"""tformer.load on files that are not what they claim: refused with a clear message, nothing executed."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import tformer
from tformer.checkpoint import FORMAT_VERSION, CheckpointError

from .conftest import assert_clean_failure, run_cli


@pytest.fixture(scope="module")
def checkpoint(text_run) -> dict:
    """The plain data of the tiny translation checkpoint."""
    return torch.load(text_run.ckpt, weights_only=True)


def _saved(tmp_path, checkpoint: dict, change) -> str:
    edited = copy.deepcopy(checkpoint)
    change(edited)
    path = tmp_path / "edited.ckpt"
    torch.save(edited, path)
    return str(path)


class _Payload:
    """Unpickling this creates ``marker``: what a malicious checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("content, message", [
    (b"", r"not a checkpoint torch can read \(EOFError"),
    (b"hello, I am a text file\n", "not a checkpoint torch can read"),
    (bytes(range(256)) * 4, "not a checkpoint torch can read"),
])
def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path, content, message):
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        tformer.load(path)


def test_a_torch_file_without_the_tformer_entry_is_refused(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not a tformer checkpoint \\(no 'tformer' entry\\); train it with tformer-train"):
        tformer.load(tmp_path / "other.ckpt")


def test_a_missing_checkpoint_or_run_folder_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=f"checkpoint {tmp_path / 'gone.ckpt'} does not exist"):
        tformer.load(tmp_path / "gone.ckpt")
    with pytest.raises(CheckpointError, match="is a folder without checkpoints/last.ckpt"):
        tformer.load(tmp_path)


def test_a_newer_format_version_asks_for_a_newer_tformer(tmp_path, checkpoint):
    path = _saved(tmp_path, checkpoint, lambda c: c["tformer"].update(format_version=99, tformer_version="9.0"))
    with pytest.raises(CheckpointError, match=rf"format 99 is newer than this tformer reads \({FORMAT_VERSION}\); upgrade tformer .*says 9\.0"):
        tformer.load(path)


def test_a_pickled_object_is_refused_and_never_run(tmp_path, checkpoint):
    marker = tmp_path / "payload-ran"
    evil = dict(checkpoint, payload=_Payload(marker))
    torch.save(evil, tmp_path / "evil.ckpt")
    # the payload is real: unpickling without weights_only runs it
    proof = tmp_path / "proof"
    torch.save({"payload": _Payload(proof)}, tmp_path / "proof.ckpt")
    torch.load(tmp_path / "proof.ckpt", weights_only=False)
    assert proof.exists()

    with pytest.raises(CheckpointError, match=r"refused: the file holds pickled Python objects .*GLOBAL.*open.*weights_only=True"):
        tformer.load(tmp_path / "evil.ckpt")
    assert not marker.exists()


def test_a_pickled_object_in_plain_pickle_format_is_refused(tmp_path):
    marker = tmp_path / "payload-ran"
    (tmp_path / "evil.ckpt").write_bytes(pickle.dumps({"tformer": {}, "x": _Payload(marker)}))
    with pytest.raises(CheckpointError):
        tformer.load(tmp_path / "evil.ckpt")
    assert not marker.exists()


@pytest.mark.parametrize("where, change, registered", [
    ("task", lambda c: c["tformer"].update(task="summarization"), ["classification", "translation"]),
    ("tokenizer", lambda c: c["tformer"]["fields"]["source"].update(name="text_sentencepiece"), ["image_patch", "text_bpe", "text_char"]),
])
def test_an_unregistered_name_lists_the_registered_ones(tmp_path, checkpoint, where, change, registered):
    with pytest.raises(CheckpointError, match=f"unknown {where} ") as error:
        tformer.load(_saved(tmp_path, checkpoint, change))
    listed = str(error.value).partition("Registered: ")[2]
    assert all(name in listed for name in registered)


@pytest.mark.parametrize("place", ["source", "core", "options"])
def test_a_hydra_target_in_the_spec_is_refused_not_built(tmp_path, checkpoint, place):
    marker = tmp_path / "built"
    target = {"_target_": "builtins.open", "file": str(marker), "mode": "w"}
    kwargs = {"source": lambda c: c["tformer"]["fields"]["source"]["kwargs"], "core": lambda c: c["tformer"]["core"]["kwargs"],
              "options": lambda c: c["tformer"]["options"]}[place]
    path = _saved(tmp_path, checkpoint, lambda c: kwargs(c).update(dropout=target))
    with pytest.raises(CheckpointError, match=r"names an object to build \(_target_='builtins.open'\).*refuses it"):
        tformer.load(path)
    assert not marker.exists()


def test_weights_that_do_not_fit_the_spec_are_refused(tmp_path, checkpoint):
    path = _saved(tmp_path, checkpoint, lambda c: c["tformer"]["core"]["kwargs"].update(d_ff=32))
    with pytest.raises(CheckpointError, match="its weights do not fit the model its 'tformer' entry describes"):
        tformer.load(path)


def test_tformer_predict_refuses_a_non_checkpoint_without_a_trace(tmp_path):
    (tmp_path / "model.ckpt").write_text("not a model\n")
    (tmp_path / "in.txt").write_text("ich sehe das haus\n")
    result = run_cli("predict", f"ckpt={tmp_path / 'model.ckpt'}", f"input={tmp_path / 'in.txt'}", f"output={tmp_path / 'out.jsonl'}")
    assert_clean_failure(result, "tformer-predict: error:", f"{tmp_path / 'model.ckpt'}: not a checkpoint torch can read")
    assert result.returncode == 2
