"""The real-speech recipes (asr_fillets_*, st_fillets_cs_en, mt_fillets_cs_en) train end to end on a tiny
game folder in the real formats, and their checkpoints predict."""

import json

import pytest
import torch

import tformer
from tformer.cli.train import train
from tformer.data import fillets_speech
from tests.data.fillets_fixture import make_game

from .conftest import compose_run


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    root = tmp_path_factory.mktemp("fillets")
    return {"game": str(make_game(root)), "root": str(root / "data")}


def _data(game, language="cs"):
    where = [f"++data.{split}.{key}={value}" for split in ("train", "valid", "test")
             for key, value in (("root", game["root"]), ("game_dir", game["game"]), ("split", "train"))]
    # the tiny folder's valid and test splits may be empty: evaluate on its training clips
    return [*where, f"data.train.language={language}", "model.n_encoder_layers=1", "model.n_decoder_layers=1",
            "model.d_model=32", "model.d_ff=64"]


@pytest.mark.parametrize("experiment, metric", [("asr_fillets_cs", "test/wer"), ("asr_fillets_nl", "test/wer"),
                                                ("mt_fillets_cs_en", "test/bleu")])
def test_the_recipe_trains_and_predicts(experiment, metric, game, tmp_path):
    language = "nl" if experiment.endswith("_nl") else "cs"
    cfg = compose_run(tmp_path, [f"experiment={experiment}", *_data(game, language), "target.vocab_size=60"
                                 if experiment.startswith("mt") else "source.conv_channels=4"])
    task, result = train(cfg)
    assert metric in result["test"] and torch.isfinite(torch.tensor(result["test"]["test/loss"]))
    raw = fillets_speech("train", language, root=game["root"], game_dir=game["game"])
    column = "text" if experiment.startswith("mt") else "audio"
    inputs = list(raw.column(column))[:2]
    assert tformer.load(result["checkpoint"]).predict(inputs) == task.predict(inputs)


def test_speech_translation_learns_english_with_ctc_on_the_spoken_words(game, tmp_path):
    cfg = compose_run(tmp_path, ["experiment=st_fillets_cs_en", *_data(game), "source.conv_channels=4",
                                 "target.vocab_size=60"])
    task, result = train(cfg)
    assert set(task.fields) == {"source", "target", "transcript"}
    assert task.objectives["ctc"].field == "transcript"
    assert task.objectives["ctc"].head.out_features == task.fields["transcript"].vocab_size  # Czech characters
    assert {"test/loss_ctc", "test/loss_cross_entropy", "test/bleu"} <= set(result["test"])
    raw = fillets_speech("train", "cs", root=game["root"], game_dir=game["game"])
    transcript = task.fields["transcript"]  # its own characters: every Czech letter of the transcripts
    assert all(transcript.decode(transcript.prepare(t)) == t for t in raw.column("text"))
    assert any(c in "ěščřžýáíéůú" for t in raw.column("text") for c in t)
    loaded = tformer.load(result["checkpoint"])
    audio = list(raw.column("audio"))[:2]
    assert loaded.predict(audio) == task.predict(audio) and all(isinstance(p, str) for p in loaded.predict(audio))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"] == result["test"]
