"""Inputs at the edges of what a task takes: empty lists and strings, mixed lengths in one batch,
sequences longer than the learned positions, unreadable files given to predict."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

import tformer
from tformer.tasks import CTC, Beam, ClassificationTask, CrossEntropy, CtcRescoredBeam, TranslationTask
from tests import tiny_data
from tformer.core import Encoder, EncoderDecoder
from tformer.tokenizers import SPECIAL_TOKENS, AudioFbankTokenizer, LabelTokenizer, TextCharTokenizer

ALPHABET = "abcdefghij "
MIXED = ["abc", "a", "", "jihgfedcba abc", "abcabc abc", "b"]


def _text(**kwargs) -> TextCharTokenizer:
    return TextCharTokenizer(d_model=16, alphabet=ALPHABET, dropout=0.0, **kwargs)


def _translation(beam_size: int = 2, **target) -> TranslationTask:
    core = EncoderDecoder(16, 2, 1, 1, 32, dropout=0.0)
    fields = {"source": _text(), "target": _text(**target)}
    return TranslationTask(fields, core, generator=Beam(beam_size), max_len_offset=6).eval()


def _classification() -> ClassificationTask:
    labels = LabelTokenizer(classes=["x", "y", "z"])
    return ClassificationTask({"source": _text(), "target": labels}, Encoder(16, 2, 2, 32, dropout=0.0), pooling="mean").eval()


def _asr(source: AudioFbankTokenizer, generator: CtcRescoredBeam, **options) -> TranslationTask:
    objectives = {"cross_entropy": CrossEntropy(weight=0.7, label_smoothing=0.1), "ctc": CTC(weight=0.3)}
    core = EncoderDecoder(16, 2, 1, 1, 32, dropout=0.0)
    return TranslationTask({"source": source, "target": _text()}, core, objectives, generator, **options).eval()


def _never_stop(task: TranslationTask) -> None:
    # An untrained decoder soon says <eos>; this one writes letters up to its length limit, so
    # its outputs show what the source (and any padding leaking into it) made of them.
    project = task.target.project
    only_letters = torch.zeros(task.target.vocab_size)
    only_letters[: len(SPECIAL_TOKENS)] = -1e9
    task.target.project = lambda hidden: project(hidden) + only_letters


# -- empty inputs --------------------------------------------------------------------------------------
def test_predict_of_no_inputs_is_an_empty_list(text_run, image_run):
    assert tformer.load(text_run.ckpt).predict([]) == []
    assert tformer.load(image_run.ckpt).predict([]) == []


def test_translating_an_empty_string_gives_an_empty_string(text_run):
    task = tformer.load(text_run.ckpt)
    outputs = task.predict(["", text_run.sample, ""])
    assert outputs[0] == outputs[2] == "" and outputs[1] == task.predict([text_run.sample])[0]


def test_classifying_an_empty_string_is_a_value_error_naming_the_input():
    with pytest.raises(ValueError, match="input 1 is empty; ClassificationTask cannot predict from nothing"):
        _classification().predict(["abc", ""])


def test_predict_of_a_bare_string_asks_for_a_list():
    with pytest.raises(TypeError, match="wrap a single input in a list"):
        _translation().predict("abc")


# -- mixed lengths in one batch --------------------------------------------------------------------------
@pytest.mark.parametrize("beam_size", [1, 3])
def test_translating_a_batch_of_mixed_lengths_equals_one_at_a_time(beam_size):
    task = _translation(beam_size)
    _never_stop(task)
    assert task.predict(MIXED) == [task.predict([text])[0] for text in MIXED]


def test_classifying_a_batch_of_mixed_lengths_equals_one_at_a_time():
    task = _classification()
    texts = [t for t in MIXED if t]
    together = task.predict_proba(texts)
    alone = torch.cat([task.predict_proba([t]) for t in texts])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    assert task.predict(texts) == [task.predict([t])[0] for t in texts]


def test_transcribing_clips_of_mixed_durations_equals_one_at_a_time(tmp_path):
    clips = []
    for i, seconds in enumerate([0.3, 1.1, 0.12, 0.7]):
        clips.append(tmp_path / f"{i}.wav")
        soundfile.write(clips[-1], tiny_data.tone(seconds, 300.0 + 200 * i), 16000)
    source = AudioFbankTokenizer(d_model=16, n_mels=20, dropout=0.0, spec_augment=False, conv_channels=4)
    task = _asr(source, CtcRescoredBeam(beam_size=2), max_len_offset=6)
    _never_stop(task)
    assert task.predict(clips) == [task.predict([clip])[0] for clip in clips]


# -- positions -------------------------------------------------------------------------------------------
def test_a_source_longer_than_its_learned_positions_names_max_len():
    core = EncoderDecoder(16, 2, 1, 1, 32, dropout=0.0)
    task = TranslationTask({"source": _text(positions="learned", max_len=8), "target": _text()}, core).eval()
    assert len(task.predict(["abcdefgh"])) == 1
    task.source.forward = _must_not_run  # refused before the forward pass
    with pytest.raises(ValueError, match=r"input 0 \(abcdefghi\) needs 9 positions \(one per token\), more than the 8 the "
                                         r"model takes \(the source tokenizer's max_len\); shorten the input"):
        task.predict(["abcdefghi"])


def _must_not_run(*args, **kwargs):
    raise AssertionError("the forward pass ran")


@pytest.mark.parametrize("beam_size", [1, 3])
def test_outputs_stop_at_the_targets_learned_positions(beam_size):
    # source length + max_len_offset (6) would need more positions than the target learned
    task = _translation(beam_size, positions="learned", max_len=5)
    _never_stop(task)
    outputs = task.predict(["abcdefghij"])
    assert len(outputs[0]) == 5


# -- unreadable files --------------------------------------------------------------------------------------
def test_predicting_from_a_corrupt_png_names_the_file(image_run, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    task = tformer.load(image_run.ckpt)
    with pytest.raises(ValueError, match=f"{broken}: not a readable image"):
        task.predict([image_run.sample, str(broken)])


def test_predicting_from_a_missing_audio_file_names_the_file(tmp_path):
    source = AudioFbankTokenizer(d_model=16, n_mels=20, conv_channels=4)
    task = _asr(source, CtcRescoredBeam())
    with pytest.raises(ValueError, match=f"{tmp_path / 'gone.wav'}: cannot read audio"):
        task.predict([tmp_path / "gone.wav"])
