"""The decoder-only language model: trains on one text field, reports exact perplexity, continues
prompts with its KV cache as a full recomputation would, and refuses data that lacks its field."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import tformer
from tformer.cli.composition import check_composition
from tformer.cli.train import train
from tformer.core import Decoder
from tformer.tasks import Generator, Greedy, LanguageModelTask
from tformer.tokenizers import TextBpeTokenizer, TextCharTokenizer

from .conftest import compose_run

ALPHABET = "abcdefgh "


def _model(**options) -> LanguageModelTask:
    torch.manual_seed(0)
    text = TextCharTokenizer(d_model=16, alphabet=ALPHABET, dropout=0.0)
    core = Decoder(16, 2, 2, 32, dropout=0.0, norm_first=True, cross_attention=False)
    return LanguageModelTask({"text": text}, core, **options).eval()


def _lm_on_parallel_text(tiny, *extra):
    t = tiny["text"]
    return ["task=language_model", "target=text_char", "data=parallel_text", f"data.train.source_path={t['train.de']}",
            f"data.train.target_path={t['train.en']}", *extra]


def test_a_language_model_trains_on_the_side_of_parallel_text_it_is_told_to_read(tiny, tmp_path):
    cfg = compose_run(tmp_path, _lm_on_parallel_text(tiny, "data.fields={text: target}", "task.generator.seed=0",
                                                     "task.max_new_tokens=5", "test=false"))
    task, result = train(cfg)
    assert task.trainer.global_step == 3 and set(task.fields) == {"text"}
    loaded = tformer.load(result["checkpoint"])
    assert loaded.predict(["the", "", "a dog"]) == task.predict(["the", "", "a dog"])  # the same seeded draws
    assert all(len(text) <= 5 for text in loaded.predict(["the"]))  # 5 characters at most, EOS aside


def test_a_language_model_on_data_without_its_field_is_refused_naming_it(tiny, tmp_path):
    cfg = compose_run(tmp_path, _lm_on_parallel_text(tiny))
    with pytest.raises(ValueError, match=r"reads its field 'text', but data=parallel_text gives 'source', 'target' "
                                         r"\(ParallelTextDataset\); say which data field it reads, e\.g\. \+data\.fields=\{text: source\}"):
        check_composition(cfg)


@torch.no_grad()
def test_perplexity_is_the_exponent_of_the_token_mean_cross_entropy():
    task = _model()
    text = task.text
    batch = {"text": text.collate([text.prepare(s) for s in ("abc de", "h", "fgh gfe dcb")])}
    outputs = task(batch)
    task.update_metrics("val", batch, outputs)  # logs outside a trainer are a no-op
    logits, targets = outputs["logits"], outputs["targets"]
    keep = targets != -100
    expected = math.exp(float(F.cross_entropy(logits[keep], targets[keep])))
    assert keep.sum() == 6 + 1 + 11 + 3  # characters plus one EOS per text
    assert float(task.perplexity["val"].compute()) == pytest.approx(expected, rel=1e-5)


@torch.no_grad()
def test_cached_generation_continues_as_a_full_recomputation_would():
    task = _model(generator=Greedy(), max_new_tokens=6)
    text = task.text
    ids = [text.bos_id] + text.prepare("abc").tolist()
    expected = []
    for _ in range(6):  # no cache: the whole sequence again at every step
        x, _ = text(torch.tensor([ids]), torch.tensor([len(ids)]))
        token = int(text.project(task.core(x))[0, -1].argmax())
        if token == text.eos_id:
            break
        ids.append(token)
        expected.append(token)
    assert task.predict(["abc"]) == [text.decode(expected)]


def test_prompts_of_different_lengths_are_continued_as_one_at_a_time():
    task = _model(generator=Greedy(), max_new_tokens=4)
    prompts = ["abc", "", "h", "fgh gfe", "abc"]
    assert task.predict(prompts) == [task.predict([p])[0] for p in prompts]


def test_a_prompt_that_fills_the_learned_positions_is_named():
    text = TextCharTokenizer(d_model=16, alphabet=ALPHABET, positions="learned", max_len=4)
    task = LanguageModelTask({"text": text}, Decoder(16, 2, 1, 32, cross_attention=False)).eval()
    with pytest.raises(ValueError, match="a prompt of 3 tokens leaves no room for a continuation within the 4 learned"):
        task.predict(["abc"])


def test_an_encoder_decoder_core_or_a_label_field_is_refused():
    text = TextCharTokenizer(d_model=16, alphabet=ALPHABET)
    with pytest.raises(ValueError, match="cross_attention: false"):
        LanguageModelTask({"text": text}, Decoder(16, 2, 1, 32))
    with pytest.raises(ValueError, match="its text field must be a text tokenizer"):
        LanguageModelTask({"text": tformer.TOKENIZERS.build("label", classes=["a", "b"])}, Decoder(16, 2, 1, 32, cross_attention=False))


class _Says(Generator):
    """Continues every prompt with the same token ids."""

    def __init__(self, ids: list[int]):
        self.ids = ids

    def generate(self, task, decoding, outputs) -> list[list[int]]:
        return [list(self.ids)] * decoding.prefix.size(0)


@pytest.mark.parametrize("word, continuation", [("time", " time"), ("upon", " upon")])
def test_a_continuation_keeps_the_space_before_the_word_it_starts(word, continuation):
    text = TextBpeTokenizer(d_model=16, vocab_size=60, min_frequency=1)
    text.fit(["once upon a time"] * 20)
    assert len(text.prepare(word)) == 1  # one subword that starts a word ("▁time")
    task = LanguageModelTask({"text": text}, Decoder(16, 2, 1, 32, cross_attention=False),
                             generator=_Says(text.prepare(word).tolist())).eval()
    assert task.predict(["once upon a"]) == [continuation]
    assert "once upon a" + task.predict(["once upon a"])[0] == f"once upon a {word}"
