"""Retrieval: a dual encoder's ranks match torchmetrics' recall, whole-split evaluation is exact,
predict gives unit embeddings, search finds, long and empty inputs are handled by name."""

import json
import warnings
from types import SimpleNamespace

import pytest
import torch
from hydra import compose, initialize_config_dir
from torchmetrics.retrieval import RetrievalRecall

import tformer
from tformer.cli import CONFIG_DIR
from tformer.cli.predict import predict_file
from tformer.cli.train import train
from tformer.core import Encoder
from tformer.tasks.ranking import _first_of_each, gather_split, ranks_of_pairs, recall_at, top_k
from tformer.tasks.retrieval import RetrievalTask
from tformer.tokenizers import TextCharTokenizer

from .conftest import compose_run

GERMAN = ["der hund schläft", "die katze trinkt milch", "wo ist der bahnhof", "ich lese ein buch", "es regnet heute",
          "wir gehen nach hause", "das wasser ist kalt", "guten morgen", "sie singt ein lied", "er kauft brot"]
ENGLISH = ["the dog sleeps", "the cat drinks milk", "where is the station", "i read a book", "it rains today",
           "we go home", "the water is cold", "good morning", "she sings a song", "he buys bread"]


def test_ranks_give_torchmetrics_recall_both_ways():
    torch.manual_seed(0)
    queries, documents = torch.randn(40, 8), torch.randn(40, 8)
    documents[:10] = queries[:10] + 0.1 * torch.randn(10, 8)  # some pairs close, the rest random
    scores = torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(documents, dim=-1).T
    indexes = torch.arange(40).unsqueeze(1).expand(40, 40)
    for k in (1, 5, 10):
        reference = RetrievalRecall(top_k=k)(scores.flatten(), torch.eye(40, dtype=torch.bool).flatten(), indexes=indexes.flatten())
        assert recall_at(ranks_of_pairs(queries, documents, chunk=7), k) == pytest.approx(float(reference))
        reference_back = RetrievalRecall(top_k=k)(scores.T.flatten(), torch.eye(40, dtype=torch.bool).flatten(), indexes=indexes.flatten())
        assert recall_at(ranks_of_pairs(documents, queries), k) == pytest.approx(float(reference_back))


def test_ties_are_broken_by_index_and_top_k_is_ordered():
    documents = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert ranks_of_pairs(documents.clone(), documents).tolist() == [0, 1, 0]  # the repeat comes second
    collapsed = torch.ones(50, 8)  # one vector for everything: no better than a random order
    assert ranks_of_pairs(collapsed, collapsed, chunk=7).tolist() == list(range(50))
    assert recall_at(ranks_of_pairs(collapsed, collapsed), 1) == pytest.approx(1 / 50)
    hits = top_k(torch.tensor([[1.0, 0.2]]), documents, k=2)[0]
    assert [i for i, _ in hits] == [0, 1] and hits[0][1] == pytest.approx(1 / 1.04**0.5)
    with pytest.raises(ValueError, match="pair row by row"):
        ranks_of_pairs(documents, documents[:2])


def test_gathering_one_process_keeps_each_item_once_in_index_order():
    index = torch.tensor([4, 1, 3, 1, 0, 4])  # a padding batch repeated items 1 and 4
    rows = torch.arange(6.0).unsqueeze(1)
    unique, (kept,) = gather_split(object(), index, [rows])
    assert unique.tolist() == [0, 1, 3, 4] and kept.flatten().tolist() == [4.0, 1.0, 2.0, 0.0]
    assert _first_of_each(torch.tensor([2, 2, 2]))[1].tolist() == [0]


def _task(**options):
    torch.manual_seed(0)
    text = TextCharTokenizer(d_model=16)
    text.fit(GERMAN + ENGLISH)
    core = Encoder(d_model=16, n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    return RetrievalTask({"source": text, "target": text}, core, **options)


def test_predict_gives_unit_embeddings_of_the_pooled_encoder():
    task = _task()
    task.eval()
    embedded = task.predict(GERMAN[:3])
    batch = task.fields["source"].collate([task.fields["source"].prepare(t) for t in GERMAN[:3]])
    x, pad = task.fields["source"](batch.values, batch.lengths)
    h = task.core(x, pad)
    for i, n in enumerate(batch.lengths.tolist()):
        mean = h[i, :n].mean(0)
        torch.testing.assert_close(embedded[i], mean / mean.norm(), atol=1e-5, rtol=1e-5)
    assert torch.stack(embedded).norm(dim=1).allclose(torch.ones(3))


def test_search_finds_each_document_first_for_itself():
    task = _task()
    found = task.search(ENGLISH[:4], ENGLISH, k=3)
    assert [hits[0]["index"] for hits in found] == [0, 1, 2, 3]
    assert found[2][0] == {"index": 2, "document": ENGLISH[2], "score": pytest.approx(1.0, abs=1e-5)}
    assert all(len(hits) == 3 and hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"] for hits in found)


def test_too_long_inputs_are_truncated_with_a_warning_or_refused_by_name():
    long = "ab " * 40
    truncating = _task(max_length=20)
    with pytest.warns(UserWarning, match=r"source 1 .* has 120 tokens, more than the 20 .* only its first 20"):
        embedded = truncating.embed(["der hund", long])
    torch.testing.assert_close(embedded[1], truncating.embed([long[:20]])[0])
    refusing = _task(max_length=20, too_long="refuse")
    with pytest.raises(ValueError, match=r"target 0 .* has 120 tokens, more than the 20 the model reads \(task.max_length\)"):
        refusing.embed([long], side="target")
    with pytest.raises(ValueError, match="source 1 .* is empty"):
        refusing.embed(["der hund", ""])
    with pytest.raises(ValueError, match="task.too_long must be 'truncate' or 'refuse'"):
        _task(too_long="cut")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        truncating.embed(["der hund"])  # within the limit: no warning


def _files(tmp_path, targets):
    for name, lines in (("train.de", GERMAN * 3), ("train.en", ENGLISH * 3), ("test.de", GERMAN), ("test.en", targets)):
        (tmp_path / name).write_text("\n".join(lines) + "\n")


def _run(tmp_path, extra=()):
    test = f"{{_target_: tformer.data.ParallelTextDataset, source_path: {tmp_path / 'test.de'}, target_path: {tmp_path / 'test.en'}}}"
    cfg = compose_run(tmp_path, [
        "task=retrieval", "source=text_char", "target=text_char", "shared_vocabulary=true", "data=parallel_text",
        f"data.train.source_path={tmp_path / 'train.de'}", f"data.train.target_path={tmp_path / 'train.en'}",
        f"+data.test={test}", "trainer.limit_test_batches=null", "data.batch_size=3", *extra,
    ])
    return train(cfg)


def test_a_tiny_run_tests_over_the_whole_split_and_predicts(tmp_path):
    _files(tmp_path, GERMAN)  # the documents are the queries themselves: every pair ranks first
    task, result = _run(tmp_path)
    test = result["test"]
    for name in ("source_to_target", "target_to_source"):
        assert test[f"test/recall1_{name}"] == 1.0 and test[f"test/recall10_{name}"] == 1.0
    loaded = tformer.load(result["checkpoint"])
    torch.testing.assert_close(torch.stack(loaded.predict(GERMAN[:2])), torch.stack(task.predict(GERMAN[:2])))
    lines, output = tmp_path / "lines.txt", tmp_path / "embeddings.jsonl"
    lines.write_text("\n".join(GERMAN[:2]) + "\n", encoding="utf-8")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        predict_file(compose("predict", overrides=[f"ckpt={result['checkpoint']}", f"input={lines}", f"output={output}"]))
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["input"] for r in written] == GERMAN[:2]
    torch.testing.assert_close(torch.tensor([r["prediction"] for r in written]), torch.stack(task.predict(GERMAN[:2])), atol=1e-6, rtol=0)
    assert task.trivial_baseline(SimpleNamespace(test=GERMAN)) == ("test/recall1_source_to_target", 0.1, "a random order of the documents")


def test_the_logged_recall_is_the_recall_of_the_whole_split(tmp_path):
    _files(tmp_path, ENGLISH)
    task, result = _run(tmp_path)
    sources, targets = task.embed(GERMAN), task.embed(ENGLISH, side="target")
    for k in (1, 10):
        assert result["test"][f"test/recall{k}_source_to_target"] == pytest.approx(recall_at(ranks_of_pairs(sources, targets), k), abs=1e-6)
        assert result["test"][f"test/recall{k}_target_to_source"] == pytest.approx(recall_at(ranks_of_pairs(targets, sources), k), abs=1e-6)


def test_a_pair_with_an_empty_side_is_skipped_and_named_or_stops(tmp_path):
    from tformer.data import DataError, DataWarning

    _files(tmp_path, GERMAN)
    (tmp_path / "train.en").write_text("\n".join(ENGLISH[:4] + [""] + ENGLISH[5:]) + "\n")
    (tmp_path / "train.de").write_text("\n".join(GERMAN) + "\n")
    with pytest.warns(DataWarning, match=r"train.en: 1 line\(s\) skipped \(empty line\), at lines 5"):
        _run(tmp_path)
    with pytest.raises(Exception, match=r"train.en:5: empty line") as stopped:  # the CLI shows the message alone
        _run(tmp_path, ["+data.train.on_bad_line=error"])
    assert isinstance(stopped.value, DataError) or isinstance(stopped.value.__cause__, DataError)
