"""The speed benchmarks run (tiny shapes, one repeat); their timings are not checked."""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def speed(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not a package
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    from benchmarks import speed

    yield speed
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ["train", "vit", "decode", "cache", "memory"])
def test_benchmark_runs_on_tiny_shapes(speed, name):
    if name == "decode":
        pytest.importorskip("transformers")
    settings = speed.Settings.quick()
    settings.repeats = 1
    results = speed.BENCHMARKS[name](settings)
    assert results
    for result in results:
        assert result.ours >= 0 and result.peer >= 0 and not math.isnan(result.ratio), result


def test_mfu_script_runs_on_cpu(speed, capsys):
    from benchmarks import speed_mfu

    speed_mfu.main(["--quick", "--device", "cpu"])
    assert "MFU" in capsys.readouterr().out


def test_asr_step_counts_the_convolution_it_runs(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import asr_step
    from tformer.tokenizers.audio import Conv2dSubsampling

    conv = Conv2dSubsampling(80, 16, 4).conv
    first, second = conv[0], conv[2]
    hidden = first(torch.zeros(1, 1, asr_step.FRAMES, 80))
    out = second(hidden)
    expected = out[0, 0].numel() * 4 * 4 * 9  # output positions x in x out channels x 3x3 kernel
    assert asr_step.macs_per_utterance(4)[0] == expected
    assert asr_step.step_seconds(4, steps=1) > 0


def test_decoding_grid_scores_each_setting_as_sacrebleu_does(monkeypatch, tmp_path_factory):
    monkeypatch.syspath_prepend(str(ROOT))
    import sacrebleu

    import tformer
    from benchmarks import decoding
    from tests.tiny_checkpoints import trained_run
    from tformer.tasks import Greedy

    tiny = trained_run("text", tmp_path_factory)
    task = tformer.load(tiny.ckpt)
    sources, references = ["ich sehe das haus", "das haus ist gross"], ["i see the house", "the house is big"]
    generator = task.generator
    scores = decoding.grid(task, sources, references, beams=[1, 2], alphas=[0.6, 1.0])
    assert list(scores) == [(1, 0.0), (2, 0.6), (2, 1.0)]  # greedy once: it has no length penalty
    assert task.generator is generator  # the grid leaves the task's own generator in place
    task.generator = Greedy()
    assert scores[1, 0.0] == sacrebleu.corpus_bleu(task.predict(sources), [references]).score


def test_decoding_reads_the_splits_of_the_runs_data_by_its_fields(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    from omegaconf import OmegaConf

    from benchmarks import decoding
    from tests import tiny_data

    text = tiny_data.parallel_text(tmp_path)
    split = {split: {"_target_": "tformer.data.ParallelTextDataset", "source_path": str(text[f"{split}.de"]),
                     "target_path": str(text[f"{split}.en"])} for split in ("train", "test")}
    data = {"_target_": "tformer.data.DataModule", **split, "valid_fraction": 0.25,
            "fields": {"source": "target", "target": "source"}}  # English -> German
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save({"data": data}, tmp_path / ".hydra" / "config.yaml")
    (valid, valid_references), (test, test_references) = decoding.run_splits(tmp_path)
    assert len(valid) == len(valid_references) == 12
    assert test == text["test.en"].read_text().splitlines()
    assert test_references == text["test.de"].read_text().splitlines()


def test_decoding_needs_a_run_directory(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import decoding

    monkeypatch.setattr("sys.argv", ["decoding", str(tmp_path)])
    with pytest.raises(SystemExit, match="config.yaml not found: give a run directory"):
        decoding.main()


def test_sweep_reads_variants_and_summarizes_a_run(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import sweep

    assert sweep.parse_variant("d03=model.dropout=0.3 task.optimizer.lr=2e-3") == (
        "d03", ["model.dropout=0.3", "task.optimizer.lr=2e-3"])
    assert sweep.parse_variant("base=") == ("base", [])
    with pytest.raises(SystemExit, match="TAG=OVERRIDES"):
        sweep.parse_variant("model.dropout")
    (tmp_path / "metrics.csv").write_text(
        "epoch,step,train/loss,val/bleu,val/loss\n0,10,5.0,,\n0,10,,1.5,4.0\n1,20,,3.0,4.2\n")
    (tmp_path / "metrics.json").write_text('{"test": {"test/bleu": 2.5}}')
    summary = sweep.summarize("d03", tmp_path, 0, 1.0)
    assert summary["best"] == {"val/bleu": 3.0, "val/loss": 4.0}  # highest BLEU, lowest loss
    assert summary["updates"] == 20 and summary["test"] == {"test/bleu": 2.5}
    assert (tmp_path / "summary.json").is_file()


def test_precision_times_updates_of_real_training_runs(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import precision
    from tests import tiny_data

    text = tiny_data.parallel_text(tmp_path)
    overrides = ["task=translation", "source=text_char", "target=text_char", "data=parallel_text", "model=tiny",
                 f"data.train.source_path={text['train.de']}", f"data.train.target_path={text['train.en']}",
                 "data.batch_size=4", "data.num_workers=0"]
    seconds = precision.seconds_per_update(overrides, "bf16-mixed", (1, 2), tmp_path / "runs")
    assert math.isfinite(seconds)
    assert (tmp_path / "runs" / "bf16-mixed-2" / "checkpoints" / "last.ckpt").is_file()
    with pytest.raises(SystemExit, match="Could not find 'data/no_such_data'"):  # tformer-train's message
        precision.seconds_per_update(overrides + ["data=no_such_data"], "32-true", (1, 2), tmp_path / "bad")
    with pytest.raises(SystemExit):
        precision.main(["translation_de_en", "--steps", "5", "5"])


def test_quality_reads_the_validation_curve_and_the_machine(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import quality

    (tmp_path / "metrics.csv").write_text(
        "epoch,lr-Adam,step,train/loss,val/bleu,val/loss\n"
        "0,,49,7.5,,\n"            # a training row: not part of the curve
        "0,,874,,0.5,5.94\n"
        "1,,1749,,1.57,5.24\n"
    )
    assert quality.curve(tmp_path) == [
        {"step": 874, "epoch": 0.0, "val/bleu": 0.5, "val/loss": 5.94},
        {"step": 1749, "epoch": 1.0, "val/bleu": 1.57, "val/loss": 5.24},
    ]
    assert quality.curve(tmp_path / "missing") == []
    monkeypatch.setattr(quality.os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    monkeypatch.setattr(quality.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert quality.machine().endswith(", 3 CPUs, load 1.50")


def test_the_language_model_comparison_trains_both_models_alike(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import lm_peer

    lm_peer.main(["--quick", "--updates", "4", "--eval-every", "2", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["parameters"]["ours"] == summary["parameters"]["peer"]  # the same shapes on both sides
    assert [point["update"] for point in summary["curve"]] == [2, 4]
    losses = [point[side] for point in summary["curve"] for side in ("ours", "peer")]
    assert all(0 < loss < 2 * math.log(int(summary["args"]["vocab"])) for loss in losses)


@pytest.mark.slow  # a fresh process for the memory probe, besides decoding: about 40 s on 2 busy cores
def test_long_audio_scores_chunks_against_clips_and_measures_memory(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import long_audio
    from tests.tasks import long_audio as recordings
    from tformer.checkpoint import KEY, describe

    data = tmp_path / "data" / "espeak_digits"
    (data / "test").mkdir(parents=True)
    waves = recordings.clips(data / "test")  # clip0.wav ... with recordings.TEXTS
    (data / "test.jsonl").write_text("".join(json.dumps({"audio_filepath": f"test/clip{i}.wav", "text": text}) + "\n"
                                             for i, text in enumerate(recordings.TEXTS[: len(waves)])))
    task = recordings.tiny_asr()
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": task.state_dict(), KEY: describe(task)}, ckpt)
    threads = torch.get_num_threads()
    try:
        results = long_audio.run(ckpt, minutes=[0.1], chunk_seconds=[3.0], wer_minutes=0.1, data=tmp_path / "data")
    finally:
        torch.set_num_threads(threads)
    assert [row["decoding"] for row in results["wer"]][::2] == ["per clip", "chunks of <= 3 s"]
    assert all(row["wer"] >= 0 for row in results["wer"])
    assert results["memory"][0]["minutes"] == 0.1 and results["memory"][0]["max_rss_mb"] > 0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_tts_roundtrip_transcribes_unseen_strings_and_writes_its_pictures(monkeypatch, tmp_path, tmp_path_factory):
    monkeypatch.syspath_prepend(str(ROOT))
    import numpy as np
    import soundfile

    from benchmarks import tts_roundtrip
    from tests.tiny_checkpoints import trained_run

    a = np.array([[0.0], [1.0]])
    assert tts_roundtrip.dtw_l1(a, np.repeat(a, 3, axis=0)) == 0.0  # a slower rendering of the same frames
    assert tts_roundtrip.dtw_l1(a, np.array([[0.0], [2.0]])) == 0.5  # (0 + 1) / 2 along the diagonal
    assert tts_roundtrip.spoken("509") == "five zero nine"
    tts, asr = trained_run("tts", tmp_path_factory), trained_run("audio", tmp_path_factory)
    (data,) = (tts.run.parent / "data").glob("espeak_digits*")
    seen = tts_roundtrip.seen_digit_strings(data)
    assert len(seen) >= 5  # 10 clips; a few strings may repeat
    picked = tts_roundtrip.unseen_digit_strings(20, seen | {"123"}, seed=0)
    assert len(set(picked)) == 20 and not set(picked) & (seen | {"123"}) and all(3 <= len(d) <= 7 for d in picked)
    summary = tts_roundtrip.main(["--tts", str(tts.ckpt), "--asr", str(asr.ckpt), "--count", "2", "--seen", str(data),
                                  "--out", str(tmp_path)])
    assert summary["count"] == 2 and min(summary[k] for k in ("wer", "wer_espeak", "wer_espeak_griffin_lim")) >= 0
    assert 0 < summary["mel_l1_dtw"] < 10 and summary["seconds_ours"] == pytest.approx(2 * (40 - 1) * 200 / 16000, abs=0.01)
    assert json.loads((tmp_path / "summary.json").read_text())["count"] == 2
    assert summary["prenet_dropout"] is True  # the recipe speaks with it, as Tacotron 2
    quiet = tts_roundtrip.main(["--tts", str(tts.ckpt), "--asr", str(asr.ckpt), "--count", "1", "--seen", str(data),
                                "--no-prenet-dropout"])
    assert quiet["prenet_dropout"] is False
    wave, rate = soundfile.read(tmp_path / "tts_example.wav")
    assert rate == 16000 and len(wave) == (40 - 1) * 200
    assert (tmp_path / "tts_spectrograms.png").read_bytes()[:4] == b"\x89PNG"


def test_the_topic_peers_score_as_scikit_learn_does(monkeypatch):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import topic_peer
    from tformer.data.datasets import RawDataset

    words = {"law": "judge court appeal", "food": "bread cheese soup", "love": "heart kiss romance"}
    def split(n, seed):
        rows = [(topic, f"{text.split()[i % 3]} and {text.split()[(i + seed) % 3]} today") for i in range(n)
                for topic, text in words.items()]
        rows += [("law", "the cheese court")] * (n // 2)  # a majority label, and some confusion
        return RawDataset({"topic": [t for t, _ in rows], "text": [x for _, x in rows]})

    train, valid, test = split(12, 1), split(3, 2), split(4, 0)
    summary = topic_peer.compare(train, valid, test, c_grid=(1.0, 10.0))
    assert summary["majority"]["label"] == "law"
    assert summary["majority"]["acc"] == pytest.approx(test.column("topic").count("law") / len(test))
    truth = test.column("topic")
    predicted = ["law"] * len(truth)
    assert summary["majority"]["f1"] == pytest.approx(sklearn_metrics.f1_score(truth, predicted, average="macro"))
    regression = summary["logistic_regression"]
    assert regression["C"] in (1.0, 10.0) and regression["acc"] > summary["majority"]["acc"]
    scores = topic_peer.scores(["food", "law", "law", "love"], ["food", "law", "love", "law"], ["food", "law", "love"])
    assert scores["acc"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(sklearn_metrics.f1_score(["food", "law", "love", "law"], ["food", "law", "law", "love"],
                                                                  average="macro"))


def test_the_tagging_comparison_trains_both_models_on_the_same_batches(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import tagging_peer

    tagging_peer.main(["--quick", "--updates", "4", "--max-tokens", "400", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    for split in ("valid_f1", "test_f1", "fortunes_valid_f1", "fortunes_test_f1"):
        for side in ("ours", "peer"):
            for field in ("punctuation", "case"):
                scores = summary[split][side][field]
                assert 0 <= scores["macro"] <= 1 and set(scores) > {"macro"}
                assert scores["macro"] == pytest.approx(sum(v for k, v in scores.items() if k != "macro") / (len(scores) - 1), abs=1e-3)
    assert len(summary["seconds_per_update"]) == 2 and summary["speed_ratio"] > 0

    tagging_peer.main(["--quick", "--updates", "4", "--max-tokens", "400", "--peer-lr", "0", "--out", str(tmp_path / "frozen")])
    frozen = json.loads((tmp_path / "frozen" / "summary.json").read_text())
    assert frozen["args"]["peer_lr"] == 0 and frozen["test_f1"]["ours"] == summary["test_f1"]["ours"]  # ours: its own rate

    tagging_peer.main(["--quick", "--updates", "4", "--max-tokens", "400", "--models", "ours", "--out", str(tmp_path),
                       "--train", "freedict", "fortunes"])
    alone = json.loads((tmp_path / "summary.json").read_text())
    assert set(alone["test_f1"]) == {"ours"} and "speed_ratio" not in alone
    assert alone["args"]["train"] == ["freedict", "fortunes"] and set(alone["fortunes_test_f1"]) == {"ours"}


def test_the_peer_labels_sit_on_each_words_first_subword(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    import argparse

    from benchmarks import tagging_peer
    from tformer.data.datasets import RawDataset

    rows = {"text": ["where is it", "good morning"], "punctuation": ["O O QUESTION", "O EXCLAMATION"],
            "case": ["UPPER LOWER LOWER", "UPPER LOWER"]}
    args = argparse.Namespace(d_model=16, vocab=60, dropout=0.0, heads=2, layers=1, d_ff=32)
    task = tagging_peer.build_task(args, RawDataset(rows))
    batch = tagging_peer.batches(task, RawDataset(rows), 1000)[0]
    labels, starts = tagging_peer.peer_labels(task, batch)
    n_case = task.fields["case"].n_tags
    for i, text in enumerate(sorted(rows["text"], key=lambda t: len(task.source.prepare(t)))):
        j = rows["text"].index(text)
        expected = [task.fields["punctuation"].index[p] * n_case + task.fields["case"].index[c]
                    for p, c in zip(rows["punctuation"][j].split(), rows["case"][j].split())]
        assert labels[i][starts[i]].tolist() == expected
        assert (labels[i][~starts[i]] == -100).all()


def test_the_retrieval_comparison_trains_both_encoders_and_reads_a_translation_encoder(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import retrieval_peer

    translation = ROOT / "tests" / "fixtures" / "v1" / "translation.ckpt"
    retrieval_peer.main(["--quick", "--updates", "4", "--max-tokens", "400", "--out", str(tmp_path),
                         "--translation", str(translation)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["test"]) == {"ours", "peer", "translation_encoder_zero_shot"} and summary["test_pairs"] == 50
    for scores in summary["test"].values():
        assert set(scores) == {f"recall{k}_{d}" for k in (1, 10) for d in ("de_to_en", "en_to_de")}
        assert all(0 <= v <= 1 for v in scores.values()) and scores["recall1_de_to_en"] <= scores["recall10_de_to_en"]
    assert summary["speed_ratio"] > 0 and summary["parameters"]["ours"] > 0


def test_the_language_table_ranks_each_languages_held_out_lines(monkeypatch):
    from tformer.data.fillets import GAME_DIR

    if not any((Path(GAME_DIR) / "script").glob("*/dialogs_cs.lua")):
        pytest.skip("fillets-ng-data is not installed (make setup installs it)")
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import retrieval_languages
    from tformer.core import Encoder
    from tformer.data import fillets_text
    from tformer.tasks.ranking import ranks_of_pairs, recall_at
    from tformer.tasks.retrieval import RetrievalTask
    from tformer.tokenizers import TextCharTokenizer

    torch.manual_seed(0)
    text = TextCharTokenizer(d_model=16)
    text.fit(fillets_text("train", "cs+de").column("source") + fillets_text("train", "cs").column("target"))
    task = RetrievalTask({"source": text, "target": text}, Encoder(d_model=16, n_heads=2, n_layers=1, d_ff=32))
    table = retrieval_languages.scores(task, languages=("cs", "de"))
    czech = fillets_text("test", "cs")
    assert table["cs"]["pairs"] == len(czech) and set(table) == {"cs", "de"}
    ranks = ranks_of_pairs(task.embed(list(czech.column("source"))), task.embed(list(czech.column("target")), side="target"))
    assert table["cs"]["recall10_to_en"] == round(recall_at(ranks, 10), 4)


def test_the_tagging_comparison_gives_ours_a_convolution_and_its_own_width(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import tagging_peer
    from tformer.core import Encoder

    task = tagging_peer.build_task(_conv_args(), _tagged_rows())
    reference = Encoder(16, 2, 1, 24, 0.0, norm_first=True, activation="gelu", conv_kernel=3)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(task.core) == count(reference) and task.core.layers[0].conv is not None


def test_the_tagging_peer_keeps_its_own_width_beside_our_convolution(monkeypatch):
    pytest.importorskip("transformers")
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import tagging_peer

    args = _conv_args()
    assert tagging_peer.bert(tagging_peer.build_task(args, _tagged_rows()), args).config.intermediate_size == 32  # --d-ff


def _conv_args():
    import argparse

    return argparse.Namespace(d_model=16, vocab=60, dropout=0.0, heads=2, layers=1, d_ff=32, conv_kernel=3, our_d_ff=24)


def _tagged_rows():
    from tformer.data.datasets import RawDataset

    return RawDataset({"text": ["where is it", "good morning"], "punctuation": ["O O QUESTION", "O EXCLAMATION"],
                       "case": ["UPPER LOWER LOWER", "UPPER LOWER"]})
