"""Punctuation and case tags: made from text and put back, tagged JSON lines read and checked."""

import json

import pytest

from tformer.data import DataError, TaggedTextDataset
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
