"""Built-in data sets: atomic preparation, FreeDict parsing, Fashion-MNIST, espeak-ng speech."""

import dataclasses
import gzip
import json
import os
import shutil
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tformer.data import BUILTINS, Builtin, DataError, prepared_folder
from tformer.data.espeak import VARIANTS
from tformer.data.fashion_mnist import FASHION_MNIST_DIR
from tformer.data.freedict import DICT_PATH, entry_pairs, is_sentence, prepare_freedict, read_entries
from tformer.data.freedict import split_alternatives
from tformer.data.speech_text import DIGIT_WORDS
from tformer.registry import DATASETS


@pytest.fixture
def toy_builtin():
    calls = []

    def prepare(folder, size=2, fail=False):
        calls.append(size)
        (folder / "data.txt").write_text("x\n" * size)
        if fail:
            raise RuntimeError("interrupted half way")
        return {"splits": {"train": size}}

    BUILTINS["toy"] = Builtin("toy", "a toy", prepare, {"size": 2, "fail": False})
    yield calls
    del BUILTINS["toy"]


def test_prepared_once_atomically_in_a_folder_per_option_set(tmp_path, toy_builtin):
    folder = prepared_folder("toy", tmp_path)
    assert folder == tmp_path / "toy" and json.loads((folder / "info.json").read_text())["splits"] == {"train": 2}
    assert prepared_folder("toy", tmp_path) == folder and toy_builtin == [2]
    other = prepared_folder("toy", tmp_path, size=3)  # other options: a folder of their own
    assert other.parent == tmp_path and other.name.startswith("toy-") and prepared_folder("toy", tmp_path, size=3) == other
    prepared_folder("toy", tmp_path, size=3, force=True)
    assert toy_builtin == [2, 3, 3] and (other / "data.txt").read_text() == "x\n" * 3
    assert (folder / "data.txt").read_text() == "x\n" * 2  # the default copy is untouched
    assert prepared_folder("toy", tmp_path, size=2) == folder  # the defaults, given explicitly
    with pytest.raises(RuntimeError, match="half way"):
        prepared_folder("toy", tmp_path, size=3, fail=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["toy", other.name])  # no partial folder left
    with pytest.raises(TypeError, match="no option"):
        prepared_folder("toy", tmp_path, colour="red")


def test_a_new_version_prepares_the_folder_again(tmp_path, toy_builtin):
    folder = prepared_folder("toy", tmp_path)
    BUILTINS["toy"] = dataclasses.replace(BUILTINS["toy"], version=2)
    assert prepared_folder("toy", tmp_path) == folder and toy_builtin == [2, 2]
    assert json.loads((folder / "info.json").read_text())["version"] == 2


def test_an_option_added_later_keeps_caches_made_before_it_at_its_default(tmp_path, toy_builtin):
    folder = prepared_folder("toy", tmp_path)
    old = BUILTINS["toy"].prepare
    BUILTINS["toy"] = dataclasses.replace(BUILTINS["toy"], defaults={"size": 2, "fail": False, "colour": ["red"]},
                                          prepare=lambda folder, colour, **options: old(folder, **options))
    assert prepared_folder("toy", tmp_path) == folder and toy_builtin == [2]  # not prepared again
    assert prepared_folder("toy", tmp_path, colour=("red",)) == folder and toy_builtin == [2]
    other = prepared_folder("toy", tmp_path, colour=["blue"])
    assert other != folder and other.name.startswith("toy-") and toy_builtin == [2, 2]


def test_data_root_from_environment(tmp_path, monkeypatch, toy_builtin):
    monkeypatch.setenv("TFORMER_DATA", str(tmp_path / "env"))
    assert prepared_folder("toy") == tmp_path / "env" / "toy"


def test_split_alternatives():
    assert split_alternatives("A and B horizons, sola; solums") == ["A and B horizons", "sola", "solums"]
    assert split_alternatives("drawing (a, b), draw [coll.]") == ["drawing (a, b)", "draw"]
    assert split_alternatives("Time presses., Time is short.") == ["Time presses.", "Time is short."]
    assert split_alternatives("Yes, I know, she said.") == ["Yes, I know, she said."]
    assert is_sentence("Ich sehe das anders.") and not is_sentence("tell sb. sth.")


ENTRY = (
    "Aal blau /ˈɑːl blˈaʊ/ <masc, n, sg>\n [cook.] Eel au bleu <n>, Eel steamed\n"
    '      "Aal in Aspik"  - Jellied Eel; eel in aspic\n'
    '      "Der Aal ist frisch."  - The eel is fresh., The eel is fresh today.\n'
    "   Synonym: {blauer Aal}\n\n see: {Aal}\n         Note: Speisekarte\n"
)


def test_entry_pairs():
    assert list(entry_pairs(ENTRY)) == [
        ("Aal blau", "Eel au bleu", "headword"), ("Aal blau", "Eel steamed", "headword"),
        ("Aal in Aspik", "Jellied Eel", "example"), ("Aal in Aspik", "eel in aspic", "example"),
        ("Der Aal ist frisch.", "The eel is fresh.", "example"),
        ("Der Aal ist frisch.", "The eel is fresh today.", "example"),
    ]


def write_dictd(folder, entries):
    """A tiny dictd database: gzipped text plus an index of base64 offsets."""
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def number(value):
        digits = ""
        while True:
            digits, value = b64[value % 64] + digits, value // 64
            if not value:
                return digits

    data, index = b"00-database-info\n", ["00-database-info\tA\tR"]
    for text in entries:
        raw = text.encode()
        index.append(f"{text.split(' /')[0]}\t{number(len(data))}\t{number(len(raw))}")
        data += raw
    (folder / "toy.dict.dz").write_bytes(gzip.compress(data))
    (folder / "toy.index").write_text("\n".join(index) + "\n")
    return folder / "toy.dict.dz"


def test_prepare_freedict_on_a_toy_dictionary(tmp_path):
    sentences = "".join(f'      "Satz Nummer {i} ist hier."  - Sentence number {i} is here.\n' for i in range(4))
    path = write_dictd(tmp_path, [ENTRY, ENTRY, "Satz /zats/ <masc>\nsentence, clause\n" + sentences])
    (tmp_path / "out").mkdir()
    info = prepare_freedict(tmp_path / "out", valid_size=1, test_size=2, dict_path=str(path), headwords=True)
    assert info["unique_pairs"] == {"example": 8, "headword": 4}  # the repeated ENTRY counts once
    assert info["splits"]["valid"] == 1 and info["splits"]["test"] == 2
    assert 12 - 4 <= info["splits"]["train"] <= 12 - 3  # held-out sentences leave train
    lines = {s: (tmp_path / "out" / f"{s}.de").read_text().splitlines() for s in ("train", "valid", "test")}
    assert all(is_sentence(line) for line in lines["valid"] + lines["test"])
    assert not set(lines["train"]) & set(lines["valid"] + lines["test"])


def test_headword_min_words_keeps_phrases_and_drops_the_word_list(tmp_path):
    phrase = "sich bei jdm. einschmeicheln /zɪç/ <v>\ncurry favour with sb.; ingratiate oneself\n"
    sentences = "".join(f'      "Satz Nummer {i} ist hier."  - Sentence number {i} is here.\n' for i in range(4))
    path = write_dictd(tmp_path, [ENTRY, phrase, "Satz /zats/ <masc>\nsentence, clause\n" + sentences])
    trains = {}
    for min_words in (1, 2, 3):
        out = tmp_path / f"min{min_words}"
        out.mkdir()
        prepare_freedict(out, valid_size=1, test_size=2, dict_path=str(path), headwords=True, headword_min_words=min_words)
        trains[min_words] = set(zip((out / "train.de").read_text().splitlines(), (out / "train.en").read_text().splitlines()))
        assert (out / "test.de").read_text() == (tmp_path / "min1" / "test.de").read_text()  # test split unchanged
    assert ("Satz", "sentence") in trains[1] and ("Aal blau", "Eel steamed") in trains[1]
    assert ("Aal blau", "Eel steamed") in trains[2] and ("Satz", "sentence") not in trains[2]
    assert trains[3] == trains[1] - {("Satz", "sentence"), ("Satz", "clause"), ("Aal blau", "Eel au bleu"),
                                     ("Aal blau", "Eel steamed")}
    assert ("sich bei jdm. einschmeicheln", "ingratiate oneself") in trains[3]
    assert {de for de, _ in trains[3]} >= {"Aal in Aspik"}  # examples stay, whatever their length
    with pytest.raises(DataError, match=r"headword_min_words=0 \(data.train.headword_min_words.*whole number >= 1"):
        prepare_freedict(tmp_path, dict_path=str(path), headwords=True, headword_min_words=0)


def test_missing_dictionary_names_the_package(tmp_path):
    with pytest.raises(DataError, match="apt-get install -y dict-freedict-deu-eng"):
        next(read_entries(tmp_path / "none.dict.dz"))


@pytest.mark.skipif(not DICT_PATH.exists(), reason="dict-freedict-deu-eng is not installed")
def test_real_freedict_entries():
    pairs = {p for entry in islice(read_entries(), 2000) for p in entry_pairs(entry)}
    assert ("Aal", "Eel", "headword") in pairs and ("Aal in Aspik", "Jellied Eel", "example") in pairs
    assert ("Aal blau", "Eel steamed and served with Butter", "headword") in pairs  # comma split
    assert ("Abfahrt (Abf.)", "departure", "headword") in pairs  # glued abbreviation and IPA removed
    assert not any("<" in de + en or "[" in de + en or "/ˈ" in de + en for de, en, _ in pairs)


@pytest.mark.slow
@pytest.mark.skipif(not DICT_PATH.exists(), reason="dict-freedict-deu-eng is not installed")
def test_real_freedict_prepared(tmp_path):
    info = json.loads((prepared_folder("freedict_de_en", tmp_path) / "info.json").read_text())
    assert info["splits"]["valid"] == info["splits"]["test"] == 500
    assert 40_000 < info["unique_pairs"]["example"] < 50_000 and 40_000 < info["splits"]["train"] < 50_000
    test = DATASETS.build("freedict_de_en", split="test", root=str(tmp_path))
    train = DATASETS.build("freedict_de_en", split="train", root=str(tmp_path))
    assert len(set(_pairs(train))) == len(train) and not set(test.column("source")) & set(train.column("source"))


@pytest.mark.skipif(not FASHION_MNIST_DIR.exists(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist(tmp_path):
    splits = {s: DATASETS.build("fashion_mnist", split=s, root=str(tmp_path)) for s in ("train", "valid", "test")}
    assert {s: len(d) for s, d in splits.items()} == {"train": 55000, "valid": 5000, "test": 10000}
    item = splits["test"][0]
    assert set(item) == {"source", "target"} and item["target"] == "Ankle boot"
    assert item["source"].shape == (28, 28) and item["source"].dtype == np.uint8
    assert set(splits["valid"].column("target")) == set(splits["train"].class_names)


def test_missing_fashion_mnist_names_the_package(tmp_path):
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist"):
        prepared_folder("fashion_mnist", tmp_path, source_dir=str(tmp_path / "none"))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_digits_tiny(tmp_path):
    data = DATASETS.build("espeak_digits", split="train", root=str(tmp_path), train_size=4, valid_size=1, test_size=1)
    assert len(data) == 4
    assert data.field_names() == ["source", "target"]
    path, text = data[0]["source"], data[0]["target"]
    audio, rate = soundfile.read(path)
    assert rate == 16000 and abs(len(audio) / rate - data.durations[0]) < 0.01 and np.abs(audio).max() > 0.01
    assert set(text.split()) <= set(DIGIT_WORDS)
    (folder,) = tmp_path.glob("espeak_digits-*")  # not the default sizes: a folder of their own
    entries = [json.loads(line) for line in (folder / "test.jsonl").read_text().splitlines()]
    assert entries[0]["variant"] in VARIANTS["test"] and entries[0]["variant"] not in VARIANTS["train"]
    assert entries[0]["digits"] == "".join(str(DIGIT_WORDS.index(w)) for w in entries[0]["text"].split())
    assert entries[0]["n_digits"] == len(entries[0]["digits"])
    assert DATASETS.build("espeak_digits", split="test", root=str(tmp_path), label_key="digits", train_size=4,
                          valid_size=1, test_size=1).column("target") == [entries[0]["digits"]]


def test_missing_espeak_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="apt-get install -y espeak-ng"):
        prepared_folder("espeak_sentences", tmp_path, train_size=1, valid_size=1, test_size=1)
    assert not list(tmp_path.iterdir())  # nothing half-made left behind


@pytest.mark.slow
@pytest.mark.skipif(not DICT_PATH.exists(), reason="dict-freedict-deu-eng is not installed")
def test_real_freedict_with_headwords_keeps_the_sentence_test_split(tmp_path):
    plain = DATASETS.build("freedict_de_en", split="test", root=str(tmp_path / "plain"))
    train = DATASETS.build("freedict_de_en", split="train", root=str(tmp_path / "all"), headwords=True)
    test = DATASETS.build("freedict_de_en", split="test", root=str(tmp_path / "all"), headwords=True)
    (folder,) = (tmp_path / "all").glob("freedict_de_en-*")  # prepared with other than the default options
    info = json.loads((folder / "info.json").read_text())
    assert info["options"]["headwords"] is True
    assert len(train) > 700_000 and ("Aal", "Eel") in set(_pairs(train))  # a headword pair
    german = test.column("source")
    assert all(is_sentence(de) for de in german) and not set(german) & set(train.column("source"))
    assert len(test) == len(plain) == 500


def _pairs(data):
    """The items as ``(source, target)``."""
    return zip(data.column("source"), data.column("target"))


def test_data_processes_is_every_core_unless_the_variable_says(monkeypatch):
    from tformer.data.builtin import MAX_PROCESSES, data_processes

    monkeypatch.delenv("TFORMER_DATA_PROCESSES", raising=False)
    assert data_processes() == min(len(os.sched_getaffinity(0)), MAX_PROCESSES)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert data_processes() == MAX_PROCESSES == 16
    monkeypatch.setenv("TFORMER_DATA_PROCESSES", "5")
    assert data_processes() == 5
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("TFORMER_DATA_PROCESSES", bad)
        with pytest.raises(DataError, match=f"TFORMER_DATA_PROCESSES='{bad}' must be a whole number"):
            data_processes()
