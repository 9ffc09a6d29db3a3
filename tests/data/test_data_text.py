"""Parallel and labeled text datasets: parsing, bad-line policies and their messages."""

import warnings

import pytest

from tformer.data import DataError, DataWarning, LabeledTextDataset, ParallelTextDataset
from tformer.registry import DATASETS


def write(path, text):
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def _pairs(data):
    """The items as ``(source, target)``, read through ``__getitem__``; they hold no other field."""
    assert data.field_names() == ["source", "target"]
    return [(item["source"], item["target"]) for item in (data[i] for i in range(len(data)))]


def test_two_files(tmp_path):
    de = write(tmp_path / "a.de", "Ich sehe.\nDas Haus.\n")
    en = write(tmp_path / "a.en", "I see.\r\nThe house.\r\n")
    data = DATASETS.build("parallel_text", source_path=str(de), target_path=str(en))
    assert len(data) == 2 and data[1] == {"source": "Das Haus.", "target": "The house."}
    assert data.field_names() == ["source", "target"]
    assert data.column("source") == ["Ich sehe.", "Das Haus."] and data.column("target") == ["I see.", "The house."]
    assert data.size_hints() == {"source": [9.0, 9.0], "target": [6.0, 10.0]}


def test_only_newline_splits_lines(tmp_path):
    de = write(tmp_path / "a.de", "eins\u2028zwei\x85drei\nvier\n")
    en = write(tmp_path / "a.en", "one\ntwo\n")
    assert ParallelTextDataset(de, en)[0] == {"source": "eins\u2028zwei\x85drei", "target": "one"}


def test_line_count_mismatch_names_both_files(tmp_path):
    de = write(tmp_path / "a.de", "a\nb\nc\n")
    en = write(tmp_path / "a.en", "a\nb\n")
    with pytest.raises(DataError) as error:
        ParallelTextDataset(de, en)
    assert str(de) in str(error.value) and str(en) in str(error.value)
    assert "3 lines" in str(error.value) and "has 2" in str(error.value)


def test_tsv_and_skipped_lines_warn_once(tmp_path):
    tsv = write(tmp_path / "a.tsv", "a\tA\n\t\nno tab here\nb\tB\n" + "x" * 50 + "\ty\n")
    with pytest.warns(DataWarning) as record:
        data = ParallelTextDataset(tsv, max_chars=20)
    assert _pairs(data) == [("a", "A"), ("b", "B")] and data.bad_lines == 3
    assert len(record) == 1
    message = str(record[0].message)
    assert str(tsv) in message and "at lines 2" in message and "3" in message and "5" in message


def test_truncate_policy(tmp_path):
    de = write(tmp_path / "a.de", "abcdefgh\n\nok\n")
    en = write(tmp_path / "a.en", "xy\nz\nfine\n")
    with pytest.warns(DataWarning, match="truncated"):
        data = ParallelTextDataset(de, en, max_chars=4, on_bad_line="truncate")
    assert _pairs(data) == [("abcd", "xy"), ("ok", "fine")]


def test_error_policy_names_file_and_line(tmp_path):
    de = write(tmp_path / "a.de", "a\n\n")
    en = write(tmp_path / "a.en", "b\nc\n")
    with pytest.raises(DataError, match=r"a\.de / .*a\.en:2: empty line"):
        ParallelTextDataset(de, en, on_bad_line="error")
    with pytest.raises(ValueError, match="on_bad_line"):
        ParallelTextDataset(de, en, on_bad_line="drop")


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.de: no such file; expected a text file"):
        ParallelTextDataset(tmp_path / "nothere.de", tmp_path / "nothere.en")
    de = write(tmp_path / "a.de", b"ok\n\xff\xfe bad\n")
    en = write(tmp_path / "a.en", "ok\nbad\n")
    with pytest.raises(DataError, match=r"a\.de:2: not UTF-8"):
        ParallelTextDataset(de, en)


def test_labeled_text(tmp_path):
    tsv = write(tmp_path / "l.tsv", "\ufeffgood film\tpos\nwith\ttab inside\tneg\n")
    data = DATASETS.build("labeled_text", path=str(tsv))
    assert _pairs(data) == [("good film", "pos"), ("with\ttab inside", "neg")]
    assert data.labels() == ["neg", "pos"] and data.size_hints()["target"] == [1.0, 1.0]


def test_labeled_text_line_without_tab(tmp_path):
    tsv = write(tmp_path / "l.tsv", "a\tx\nb\tx\nno label\n")
    with pytest.raises(DataError, match=r"l\.tsv:3: no tab"):
        LabeledTextDataset(tsv)
    with pytest.warns(DataWarning, match="1 line"):
        data = LabeledTextDataset(tsv, on_bad_line="skip")
    assert len(data) == 2 and data.bad_lines == 1


def test_clean_files_do_not_warn(tmp_path):
    tsv = write(tmp_path / "l.tsv", "a\tx\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LabeledTextDataset(tsv)
