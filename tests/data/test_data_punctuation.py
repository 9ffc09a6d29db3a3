"""Punctuation and case tags: made from text and put back, tagged JSON lines read and checked."""

import json

import pytest

from tformer.data import DataError, RawConcat, RawDataset, TaggedTextDataset
from tformer.data.builtin import prepared_folder
from tformer.data.errors import DataWarning
from tformer.data.punctuation import restore, tag_words


def test_tag_words_then_restore_gives_the_text_back():
    text = "Where is the station? I don't know, maybe NASA does. Run!"
    words, marks, cases = tag_words(text)
    assert words == ["where", "is", "the", "station", "i", "don't", "know", "maybe", "nasa", "does", "run"]
    assert marks == ["O", "O", "O", "QUESTION", "O", "O", "COMMA", "O", "O", "PERIOD", "EXCLAMATION"]
    assert cases == ["UPPER", "LOWER", "LOWER", "LOWER", "UPPER", "LOWER", "LOWER", "LOWER", "ALL", "LOWER", "UPPER"]
    assert restore(words, marks, cases) == text


def test_tag_words_strips_other_punctuation_and_moves_lone_marks():
    words, marks, cases = tag_words('He said "yes" - really?! ... (e-mail)')
    assert words == ["he", "said", "yes", "really", "e-mail"]
    assert marks == ["O", "O", "O", "QUESTION", "O"]  # "?!" asks; the lone "..." cannot follow a mark already there
    assert tag_words("so ... then")[1] == ["PERIOD", "O"]  # a lone "..." ends the word before it
    assert tag_words("") == ([], [], [])
    with pytest.raises(ValueError):
        restore(["a", "b"], ["O"], ["LOWER", "LOWER"])


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_tagged_text_reads_words_single_spaced_with_their_tags(tmp_path):
    path = _write(tmp_path / "t.jsonl", [{"text": " where  is\tit ", "punctuation": "O O QUESTION", "case": "UPPER LOWER LOWER"}])
    data = TaggedTextDataset(path, tag_fields=["punctuation", "case"])
    assert data[0] == {"text": "where is it", "punctuation": "O O QUESTION", "case": "UPPER LOWER LOWER"}
    assert data.fields == {"text": "text", "punctuation": "text", "case": "text"} and data.bad_lines == 0


def test_tagged_text_names_or_skips_lines_whose_tags_do_not_match(tmp_path):
    rows = [{"text": "a b", "tags": "X Y"}, {"text": "a b c", "tags": "X Y"}, "not json", {"text": "a"}, {"text": " ", "tags": ""},
            {"text": "c", "tags": "Z"}]
    path = _write(tmp_path / "t.jsonl", rows)
    with pytest.raises(DataError, match=r"t\.jsonl:2: 3 words but 2 tags tags"):
        TaggedTextDataset(path)
    with pytest.warns(DataWarning, match="skipped"):
        data = TaggedTextDataset(path, on_bad_line="skip")
    assert data.bad_lines == 4 and data.column("tags") == ["X Y", "Z"]
    with pytest.raises(ValueError, match="on_bad_line"):
        TaggedTextDataset(path, on_bad_line="truncate")
    with pytest.raises(DataError, match="tag_fields is empty"):
        TaggedTextDataset(path, tag_fields=[])


def test_punctuation_fortunes_tags_each_fortunes_entry_in_its_own_split(tmp_path):
    folder = tmp_path / "fortunes"
    folder.mkdir()
    for topic in ("computers", "zippy"):
        entries = [f"Is {topic.upper()} number {i} a JOKE?\n-- Someone, {i}" for i in range(20)]
        (folder / topic).write_text("\n%\n".join(entries) + "\n%\n")
    root = tmp_path / "data"
    tagged = prepared_folder("punctuation_fortunes", root, source_dir=str(folder))
    plain = prepared_folder("fortunes", root, source_dir=str(folder))
    for split in ("train", "valid", "test"):
        entries = [json.loads(line)["text"] for line in (plain / f"{split}.jsonl").open()]
        rows = [json.loads(line) for line in (tagged / f"{split}.jsonl").open()]
        assert len(rows) == len(entries) > 0
        for entry, row in zip(entries, rows):
            words, marks, cases = tag_words(entry)
            assert row == {"text": " ".join(words), "punctuation": " ".join(marks), "case": " ".join(cases)}
    info = json.loads((tagged / "info.json").read_text())
    assert info["train_tags"]["ALL"] == 2 * info["splits"]["train"]  # the topic and JOKE
    assert info["train_tags"]["QUESTION"] == info["splits"]["train"]


def test_raw_concat_joins_datasets_with_the_same_fields(tmp_path):
    first = RawDataset({"text": ["a b", "c"], "tags": ["X Y", "Z"]})
    second = RawDataset({"tags": ["W"], "text": ["d"]})
    joined = RawConcat([first, second])
    assert len(joined) == 3 and [joined[i]["text"] for i in range(3)] == ["a b", "c", "d"]
    assert joined.column("tags") == ["X Y", "Z", "W"] and joined.size_hints()["text"] == [3.0, 1.0, 1.0]
    with pytest.raises(IndexError):
        joined[3]
    with pytest.raises(DataError, match="part 2 \\(RawDataset\\) has fields label; part 1 has text, tags"):
        RawConcat([first, RawDataset({"label": ["a"]})])
    with pytest.raises(DataError, match="parts is empty"):
        RawConcat([])
