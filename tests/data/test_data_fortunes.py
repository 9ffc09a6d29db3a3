"""The fortunes corpus: entries read and normalized, deduplicated, split by topic, prepared, read back."""

import codecs
import dataclasses
import json
import re

import pytest

from tformer.data import BUILTINS, DataError, FortunesDataset, prepared_folder
from tformer.data.fortunes import FORTUNES_DIR, deduplicate, normalize, read_fortunes, split_entries
from tformer.kinds import fields_of
from tformer.registry import DATASETS

SPLITS = ("train", "valid", "test")


def test_normalize_keeps_line_breaks_and_attributions():
    entry = "\n  A bit of\ttalcum   \nIs always walcum\n\n\n\t\t-- Ogden Nash\n\n"
    assert normalize(entry) == "A bit of talcum\nIs always walcum\n\n-- Ogden Nash"
    assert normalize(" \n\t\n") == ""


def test_normalize_resolves_overstrikes_control_characters_and_mojibake():
    assert normalize("taught how ___\b\b\bnot to.\x07") == "taught how not to."
    assert normalize("An interpretation _\bI satisfies") == "An interpretation I satisfies"
    assert normalize("caf'\be, B\bBold") == "café, Bold"
    twice = "Here’s £5".encode().decode("latin-1").encode().decode("latin-1")  # UTF-8 read as Latin-1, twice
    assert normalize(twice) == "Here’s £5"
    assert normalize("Ergo sum, café, Straße") == "Ergo sum, café, Straße"  # genuine letters stay


def test_read_fortunes_splits_at_lines_of_only_percent(tmp_path):
    (tmp_path / "t").write_text("one\n100% sure\n%\ntwo\x0cpage\n%\n%\nthree\n")
    assert read_fortunes(tmp_path / "t") == ["one\n100% sure", "two\x0cpage", "", "three\n"]


def test_deduplicate_keeps_the_first_and_records_every_topic():
    rows = [("a", "Same text\nhere."), ("b", "Same  text here."), ("b", ""), ("a", "Other."), ("a", "Other.")]
    entries, duplicates = deduplicate(rows)
    assert duplicates == 2 and entries == [
        {"text": "Same text\nhere.", "topic": "a", "topics": ["a", "b"]},
        {"text": "Other.", "topic": "a", "topics": ["a"]},
    ]


def test_split_entries_by_topic_with_near_duplicates_together():
    entries = [{"text": f"Saying {t} number {i}.", "topic": t} for t in ("x", "y") for i in range(40)]
    entries += [{"text": "saying x number 7", "topic": "y"}]  # a near-duplicate of an "x" entry
    splits = split_entries(entries, 0.05, 0.1, seed=0)
    sizes = {split: len(rows) for split, rows in splits.items()}  # 2 and 4 of each topic's 40 families
    assert sum(sizes.values()) == 81 and sizes["valid"] in (4, 5) and sizes["test"] in (8, 9)
    where = {e["text"]: s for s, rows in splits.items() for e in rows}
    assert where["saying x number 7"] == where["Saying x number 7."]
    assert split_entries(entries, 0.05, 0.1, seed=0) == splits and split_entries(entries, 0.05, 0.1, seed=1) != splits
    with pytest.raises(DataError, match="leave some for training"):
        split_entries(entries, 0.5, 0.5, seed=0)


def _family(text):
    return re.sub(r"[\W_]+", "", text.lower())


@pytest.fixture
def fake_fortunes(tmp_path):
    """A fortunes folder like Debian's: topic files, .dat indexes, .u8 links, ascii-art, an off/ folder."""
    folder = tmp_path / "fortunes"
    (folder / "off").mkdir(parents=True)
    topics = {
        "computers": [f"Computer saying {i}:\n\tbits and bytes.\n\t\t-- Hacker {i}" for i in range(40)],
        "songs-poems": [f"Poem {i},\nline two of it." for i in range(40)] + ["x" * 1001, "   "],
        "cookie": [f"Cookie {i}." for i in range(20)] + ["Computer saying 3:\nbits and bytes.\n-- Hacker 3"],
        "ascii-art": ["  /\\_/\\\n ( o.o )"],
    }
    for topic, entries in topics.items():
        (folder / topic).write_text("\n%\n".join(entries) + "\n%\n")
        (folder / f"{topic}.dat").write_bytes(b"\x00\x02binary index")
        (folder / f"{topic}.u8").symlink_to(topic)
    (folder / "off" / "rude").write_text(codecs.encode("Qba'g ernq zr.", "rot13") + "\n%\n")
    return folder


def _read(folder):
    return {split: [json.loads(line) for line in (folder / f"{split}.jsonl").open()] for split in SPLITS}


def test_prepared_from_a_fake_folder(tmp_path, fake_fortunes):
    folder = prepared_folder("fortunes", tmp_path / "data", source_dir=str(fake_fortunes))
    info, splits = json.loads((folder / "info.json").read_text()), _read(folder)
    assert info["removed"] == {"empty": 4, "duplicates": 1, "longer_than_1000_chars": 1}
    assert info["splits"] == {split: len(rows) for split, rows in splits.items()}
    assert sum(info["splits"].values()) == 100  # 101 texts, one too long
    assert info["characters"]["valid"] == sum(len(entry["text"]) for entry in splits["valid"])
    assert set(info["topics"]) == {"computers", "songs-poems", "cookie"}  # no .dat, .u8, ascii-art or off/
    assert info["topics"]["cookie"] == {"train": 18, "valid": 1, "test": 1}  # 5 % of each topic, rounded
    assert info["topics"]["computers"] == {"train": 36, "valid": 2, "test": 2}
    families = {split: {_family(entry["text"]) for entry in rows} for split, rows in splits.items()}
    assert not families["train"] & families["valid"] and not families["train"] & families["test"]
    assert not families["valid"] & families["test"]
    shared = next(entry for rows in splits.values() for entry in rows if entry["text"].startswith("Computer saying 3:"))
    assert shared == {"text": "Computer saying 3:\nbits and bytes.\n-- Hacker 3", "topic": "computers",
                      "topics": ["computers", "cookie"]}


def test_preparing_again_gives_the_same_splits_and_max_chars_keeps_them(tmp_path, fake_fortunes):
    first = _read(prepared_folder("fortunes", tmp_path / "a", source_dir=str(fake_fortunes)))
    assert _read(prepared_folder("fortunes", tmp_path / "b", source_dir=str(fake_fortunes))) == first
    other_seed = _read(prepared_folder("fortunes", tmp_path / "b", source_dir=str(fake_fortunes), seed=1))
    assert other_seed["test"] != first["test"]
    short = _read(prepared_folder("fortunes", tmp_path / "a", source_dir=str(fake_fortunes), max_chars=20))
    for split in SPLITS:  # fewer entries, each in the split it had
        assert short[split] == [entry for entry in first[split] if len(entry["text"]) <= 20]
    assert 0 < len(short["train"]) < len(first["train"])


def test_the_builder_gives_text_and_topic(tmp_path, fake_fortunes, monkeypatch):
    builtin = BUILTINS["fortunes"]
    monkeypatch.setitem(BUILTINS, "fortunes", dataclasses.replace(
        builtin, defaults={**builtin.defaults, "source_dir": str(fake_fortunes)}))
    valid = DATASETS.build("fortunes", split="valid", root=str(tmp_path))
    assert isinstance(valid, FortunesDataset) and 4 <= len(valid) <= 5
    assert fields_of(valid) == fields_of(DATASETS.get("fortunes")) == {"text": "text", "topic": "label"}
    item = valid[0]
    assert set(item) == {"text", "topic"} and valid.field_names() == ["text", "topic"]
    assert item["topic"] in {"computers", "songs-poems", "cookie"} and item["text"] == valid.column("text")[0]
    assert valid.size_hints() == {"text": [float(len(t)) for t in valid.column("text")], "topic": [1.0] * len(valid)}
    with pytest.raises(ValueError, match="not one of train, valid, test"):
        DATASETS.build("fortunes", split="dev", root=str(tmp_path))


def test_missing_fortunes_names_the_package(tmp_path):
    with pytest.raises(DataError, match="apt-get install -y fortunes"):
        prepared_folder("fortunes", tmp_path, source_dir=str(tmp_path / "none"))
    assert not list(tmp_path.iterdir())  # nothing half-made left behind


@pytest.mark.skipif(not (FORTUNES_DIR / "computers").exists(), reason="fortunes is not installed")
def test_real_fortunes(tmp_path):
    info = json.loads((prepared_folder("fortunes", tmp_path) / "info.json").read_text())
    assert 13_000 < info["splits"]["train"] < 14_000 and 700 < info["splits"]["valid"] < 800
    assert 700 < info["splits"]["test"] < 800 and len(info["topics"]) >= 40 and "ascii-art" not in info["topics"]
    assert all(counts["train"] > 0 for counts in info["topics"].values())  # every test topic is a known label
    train = DATASETS.build("fortunes", split="train", root=str(tmp_path))
    test = DATASETS.build("fortunes", split="test", root=str(tmp_path))
    valid = DATASETS.build("fortunes", split="valid", root=str(tmp_path))
    entries = {(split[i]["text"], split[i]["topic"]) for split in (train, valid, test) for i in range(len(split))}
    assert ("Klatu barada nikto.", "translate-me") in entries
    assert not {_family(t) for t in test.column("text")} & {_family(t) for t in train.column("text")}
    assert not any("\b" in text or "\u00c3" in text for text in train.column("text"))
