"""The real-speech benchmarks: the Conformer peer of the fillets ASR recipes, and the cascade comparison."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torchmetrics.functional.text import char_error_rate, word_error_rate

import tformer
from tformer.cli import CONFIG_DIR
from tests.data.fillets_fixture import make_game

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def benchmarks(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not a package


def _recipe_parameters(experiment: str, corpus: list[str]) -> int:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}", "run_dir=/tmp/unused"])
    fields = {name: instantiate(spec, _convert_="all") for name, spec in cfg.task.fields.items()}
    fields["target"].fit(corpus)
    core = instantiate(cfg.task.core)
    ctc = cfg.model.d_model * fields["target"].vocab_size + fields["target"].vocab_size
    return sum(p.numel() for m in (*fields.values(), core) for p in m.parameters()) + ctc


def test_the_peer_counts_the_recipes_parameters_and_trains(benchmarks, tmp_path, monkeypatch):
    from benchmarks import asr_peer

    corpus = ["jaká divná ryba", "kde je světlo"]
    args = asr_peer.main.__globals__["argparse"].Namespace(d_model=144, heads=4, layers=5, d_ff=576, conv_channels=32,
                                                           recipe_conv_kernel=15)
    text = asr_peer.TextCharTokenizer(144)
    text.fit(corpus)
    assert asr_peer.recipe_parameters(args, text.vocab_size) == _recipe_parameters("asr_fillets_cs", corpus)

    monkeypatch.setenv("TFORMER_DATA", str(tmp_path / "data"))
    game = make_game(tmp_path)
    asr_peer.main(["--quick", "--updates", "4", "--eval-every", "2", "--game-dir", str(game), "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    recipe, peer = summary["parameters"]["recipe"], summary["parameters"]["peer"]
    assert abs(peer - recipe) / recipe < 0.3  # the nearest Conformer depth at this tiny width
    assert [point["update"] for point in summary["curve"]] == [2, 4]
    assert set(summary["test"]) == {"test", "test_unseen"}
    assert all(0 <= result["cer"] for result in summary["test"].values())


class _Lookup:
    def __init__(self, table):
        self.table, self.seen = table, []

    def predict(self, inputs):
        self.seen.append(list(inputs))
        return [self.table.get(x, "") for x in inputs]


def test_the_cascade_feeds_what_the_recognizer_heard_to_the_text_model(benchmarks):
    from benchmarks import cascade

    audio, transcripts = ["a.wav", "b.wav"], ["jaká divná ryba", "kde je světlo"]
    english = ["What a strange fish.", "Where is the light?"]
    asr = _Lookup({"a.wav": "jaká divná ryba", "b.wav": "kde je svetlo"})  # one word misheard
    mt = _Lookup(dict(zip(transcripts, english)))
    st = _Lookup({"a.wav": "What a strange fish.", "b.wav": "Where is the light?"})
    results = cascade.compare(asr, mt, {"end_to_end": st}, audio, transcripts, english)
    assert mt.seen[0] == ["jaká divná ryba", "kde je svetlo"]  # the cascade translates what was heard
    assert results["text_model_on_true_transcripts"]["bleu"] == pytest.approx(100.0)
    assert results["end_to_end"]["bleu"] == pytest.approx(100.0)
    assert results["cascade"]["asr_wer"] == pytest.approx(1 / 6)
    assert results["cascade"]["bleu"] == pytest.approx(cascade.bleu(["What a strange fish.", ""], english))
    assert 0 < results["cascade"]["bleu"] < 100


def test_end_to_end_models_are_scored_without_a_cascade(benchmarks):
    from benchmarks import cascade

    english = ["What a strange fish.", "Where is the light?"]
    st = _Lookup({"a.wav": "What a strange fish.", "b.wav": "Where is it?"})
    results = cascade.compare(None, None, {"multilingual": st}, ["a.wav", "b.wav"], ["", ""], english)
    assert set(results) == {"multilingual"}
    assert results["multilingual"]["bleu"] == pytest.approx(cascade.bleu(["What a strange fish.", "Where is it?"], english))
    with pytest.raises(SystemExit):
        cascade.main(["--asr", "asr.ckpt", "--st", "st.ckpt"])  # a cascade needs its text model too
    assert cascade.system_name("runs/st/checkpoints/last.ckpt") == "end_to_end:st"
    assert cascade.system_name("runs/st/checkpoints/best-step000553.ckpt") == "end_to_end:st/best-step000553"


def test_the_ctc_weight_is_chosen_on_validation_and_restored(benchmarks, tmp_path_factory):
    from benchmarks import asr_decoding
    from tests.tiny_checkpoints import trained_run
    from tformer.tasks.generators import CtcGreedy, CtcJointBeam, CtcRescoredBeam

    run = trained_run("audio", tmp_path_factory)
    task = tformer.load(run.ckpt)
    before = task.generator
    audio, references = [run.sample, run.sample], ["one two", "three"]
    for weight in (0.0, 1.0):
        result = asr_decoding.scores(task, audio, references, weight)
        task.generator = type(before)(**{**before.init_kwargs, "ctc_weight": weight})
        expected = task.predict(audio)
        task.generator = before
        assert result["wer"] == pytest.approx(float(word_error_rate(expected, references)))
        assert result["cer"] == pytest.approx(float(char_error_rate(expected, references)))
    assert isinstance(before, CtcJointBeam)  # the asr task's default
    rescored = asr_decoding.scores(task, audio, references, 0.5, joint=False)
    task.generator = CtcRescoredBeam(before.beam_size, before.length_penalty, 0.5)
    expected = task.predict(audio)
    task.generator = before
    assert rescored["wer"] == pytest.approx(float(word_error_rate(expected, references)))
    best_path = asr_decoding.scores(task, audio, references, None)
    task.generator = CtcGreedy()
    expected = task.predict(audio)
    task.generator = before
    assert best_path["cer"] == pytest.approx(float(char_error_rate(expected, references)))
    assert task.generator is before  # the recipe's generator is back


def test_the_real_digits_score_counts_words_characters_and_misses(benchmarks):
    from benchmarks import real_digits
    from tformer.tasks.generators import CtcJointBeam

    references = ["one two three", "four", "five five"]
    heard = _Lookup({"a.wav": "one two", "b.wav": "four", "c.wav": "five"})
    heard.generator = CtcJointBeam(ctc_weight=0.5)
    result = real_digits.score(heard, "x.ckpt", ["a.wav", "b.wav", "c.wav"], references)
    assert heard.seen == [["a.wav", "b.wav", "c.wav"]]
    assert (result["decoding"], result["ctc_weight"]) == ("ctc_joint", 0.5)
    assert result["wer"] == pytest.approx(100 * 2 / 6, abs=0.01)  # "three" and one "five" deleted, of 6 words
    assert result["cer"] == pytest.approx(100 * (6 + 5) / (13 + 4 + 9), abs=0.01)  # " three" and " five"
    assert result["missed"] == {"three": 1, "five": 1} and result["words"] == 6
