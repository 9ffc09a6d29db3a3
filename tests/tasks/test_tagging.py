"""Sequence labelling: tags meet subwords where words start; a tiny run trains, tests and predicts."""

import json

import pytest
import torch

import tformer
from tformer.cli.train import train
from tformer.core import Encoder
from tformer.data.punctuation import restore, tag_words
from tformer.tasks.tagging import TaggingTask
from tformer.tokenizers import Batch, TagTokenizer, TextBpeTokenizer, TextCharTokenizer
from tformer.tokenizers.tags import IGNORE

from .conftest import compose_run

LINES = ["Where is the station?", "I don't know, ask NASA.", "Good morning!", "It is cold today, isn't it?",
         "The cat sleeps.", "Do you like tea?", "Yes, very much.", "Stop!", "She reads a book.", "We went home."]


def test_tag_tokenizer_maps_lines_both_ways_and_pads_with_ignore():
    tags = TagTokenizer()
    tags.fit(["O COMMA", "PERIOD O O"])
    assert tags.tags == ["COMMA", "O", "PERIOD"]
    batch = tags.collate([tags.prepare("O COMMA"), tags.prepare(["PERIOD"])])
    assert batch.values.tolist() == [[1, 0], [2, IGNORE]] and batch.lengths.tolist() == [2, 1]
    assert tags.decode([2, 1]) == ["PERIOD", "O"]
    with pytest.raises(ValueError, match="unknown tag.*'QUESTION'.*known tags: COMMA, O, PERIOD"):
        tags.prepare("QUESTION")
    with pytest.raises(ValueError, match="valid: tag"):
        tags.check(["O EXCLAMATION"], "valid")


def test_bpe_word_starts_agree_with_the_tokenizers_own_word_ids():
    bpe = TextBpeTokenizer(d_model=8, vocab_size=80)
    bpe.fit([" ".join(tag_words(line)[0]) for line in LINES] * 3)
    texts = ["where is the station", "unseen words here xyzzy", "a"]
    for text in texts:
        encoding = bpe.hf_tokenizer.encode(text)
        reference = [i == 0 or encoding.word_ids[i] != encoding.word_ids[i - 1] for i in range(len(encoding.ids))]
        starts = bpe.word_starts(torch.tensor([encoding.ids]))[0].tolist()
        assert starts == reference and sum(starts) == len(text.split())


def test_char_word_starts_are_the_first_letters():
    chars = TextCharTokenizer(d_model=8, alphabet="abc ")
    batch = chars.collate([chars.prepare("ab c"), chars.prepare("c")])
    assert chars.word_starts(batch.values).tolist() == [[True, False, False, True], [True, False, False, False]]
    assert chars.word_starts(chars.prepare("a?b").unsqueeze(0)).tolist() == [[True, False, False]]  # <unk> is a character


def _task():
    torch.manual_seed(0)
    source, punctuation, case = TextBpeTokenizer(d_model=16, vocab_size=80), TagTokenizer(), TagTokenizer()
    rows = [tag_words(line) for line in LINES]
    source.fit([" ".join(r[0]) for r in rows])
    punctuation.fit([" ".join(r[1]) for r in rows])
    case.fit([" ".join(r[2]) for r in rows])
    core = Encoder(d_model=16, n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    return TaggingTask({"source": source, "punctuation": punctuation, "case": case}, core), rows


def test_word_states_are_the_encoder_states_at_each_words_first_subword():
    task, rows = _task()
    task.eval()
    batch = task.source.collate([task.source.prepare(" ".join(r[0])) for r in rows[:3]])
    words, counts = task.word_states(batch.values, batch.lengths)
    assert counts.tolist() == [len(r[0]) for r in rows[:3]]
    x, pad = task.source(batch.values, batch.lengths)
    h = task.core(x, pad)
    for i, row in enumerate(rows[:3]):
        encoding = task.source.hf_tokenizer.encode(" ".join(row[0]))
        firsts = [encoding.word_ids.index(w) for w in range(len(row[0]))]
        torch.testing.assert_close(words[i, : len(firsts)], h[i, firsts])
        assert not words[i, len(firsts):].any()


def test_a_text_whose_words_differ_from_its_tags_is_named():
    task, rows = _task()
    source = task.source.collate([task.source.prepare("where is")])
    tags = task.fields["punctuation"].collate([task.fields["punctuation"].prepare("O")])
    with pytest.raises(ValueError, match="finds 2 words in batch item 0 where its punctuation field has 1 tags"):
        task({"source": source, "punctuation": tags, "case": tags})


def test_the_loss_is_cross_entropy_over_real_words_of_each_field():
    task, rows = _task()
    task.eval()
    batch = {"source": task.source.collate([task.source.prepare(" ".join(r[0])) for r in rows[:4]])}
    for field, column in (("punctuation", 1), ("case", 2)):
        batch[field] = task.fields[field].collate([task.fields[field].prepare(r[column]) for r in rows[:4]])
    total, losses, outputs = task.loss(batch)
    expected = {}
    for field in ("punctuation", "case"):
        logits, tags = outputs[f"logits_{field}"], batch[field]
        per_item = [torch.nn.functional.cross_entropy(logits[i, :n], tags.values[i, :n], reduction="sum")
                    for i, n in enumerate(tags.lengths.tolist())]
        expected[field] = sum(per_item) / tags.lengths.sum()
        torch.testing.assert_close(losses[f"cross_entropy_{field}"], expected[field])
    torch.testing.assert_close(total, expected["punctuation"] + expected["case"])


def test_tagging_needs_a_text_source_and_tag_fields():
    task, _ = _task()
    core = Encoder(d_model=16, n_heads=2, n_layers=1, d_ff=32)
    with pytest.raises(ValueError, match="one or more tag fields.*there are none"):
        TaggingTask({"source": task.source}, core)
    with pytest.raises(ValueError, match="not tags: case"):
        TaggingTask({"source": task.source, "case": task.source}, core)


def test_a_tiny_run_trains_tests_and_restores_punctuation(tmp_path):
    rows = [tag_words(line) for line in LINES]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"text": " ".join(w), "punctuation": " ".join(p), "case": " ".join(c)}) + "\n"
                            for w, p, c in rows * 4))
    data = f"{{_target_: tformer.data.TaggedTextDataset, path: {path}, tag_fields: [punctuation, case]}}"
    cfg = compose_run(tmp_path, [
        "task=tagging", "source=text_bpe", "source.vocab_size=80", "data=tagged_text", f"data.train.path={path}",
        "data.train.tag_fields=[punctuation,case]", f"+data.test={data}",
        "+task.fields.punctuation._target_=tformer.tokenizers.TagTokenizer",
        "+task.fields.case._target_=tformer.tokenizers.TagTokenizer",
    ])
    task, result = train(cfg)
    test = result["test"]
    assert {"test/acc_punctuation", "test/f1_case", "test/f1_punctuation_QUESTION", "test/f1_case_ALL"} <= set(test)
    assert all(0.0 <= test[k] <= 1.0 for k in test if "/acc" in k or "/f1" in k)
    loaded = tformer.load(result["checkpoint"])
    predicted = loaded.predict(["where  is the station", "Good MORNING"])
    assert predicted[0]["words"] == ["where", "is", "the", "station"] and len(predicted[0]["case"]) == 4
    assert predicted == task.predict(["where is the station", "Good MORNING"])
    assert restore(**predicted[1]).lower().startswith("good morning")
    with pytest.raises(ValueError, match="input 0 is empty"):
        loaded.predict(["  "])
