"""Bad data files: missing, malformed or damaged inputs are named with what would be right;
items that can be skipped are skipped, counted and warned about once."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from tests import tiny_data
from tformer.data import (
    DataError, DataModule, DataWarning, IdxImageDataset, ImageFolderDataset, LabeledTextDataset,
    ManifestDataset, ParallelTextDataset, PreparedDataset, RawDataset, SkippedItems,
)
from tformer.tokenizers import AudioFbankTokenizer, ImagePatchTokenizer, LabelTokenizer, TextCharTokenizer


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- missing files and folders, per dataset kind ----------------------------------------------------
MISSING = {  # kind: (build it in folder d, how the path is named, what was expected there)
    "parallel_text source": (lambda d: ParallelTextDataset(d / "no.de", _write(d / "a.en", "x\n")),
                             "no.de: no such file", "one source sentence per line"),
    "parallel_text target": (lambda d: ParallelTextDataset(_write(d / "a.de", "x\n"), d / "no.en"),
                             "no.en: no such file", "one target sentence per line"),
    "parallel_text tsv": (lambda d: ParallelTextDataset(d / "no.tsv"), "no.tsv: no such file", "'source<TAB>target'"),
    "labeled_text": (lambda d: LabeledTextDataset(d / "no.tsv"), "no.tsv: no such file", "'text<TAB>label'"),
    "image_folder": (lambda d: ImageFolderDataset(d / "no_images"), "no_images: no such folder", "one sub-folder of images"),
    "image_folder given a file": (lambda d: ImageFolderDataset(_write(d / "file", "x")),
                                  "it exists but is not a folder", "one sub-folder of images"),
    "image_folder without classes": (lambda d: ImageFolderDataset(d), "no class folders", "root/<class name>/<images>"),
    "idx_images": (lambda d: IdxImageDataset(d / "no-images.idx", d / "no-labels.idx"),
                   "no-images.idx: no such file", "an IDX file"),
    "audio_manifest": (lambda d: ManifestDataset(d / "no.jsonl"), "no.jsonl: no such file", "a JSON-lines manifest"),
}


@pytest.mark.parametrize("kind", list(MISSING))
def test_a_missing_file_or_folder_is_named_with_what_belongs_there(kind, tmp_path):
    build, names_it, expected = MISSING[kind]
    with pytest.raises(DataError) as error:
        build(tmp_path)
    assert names_it in str(error.value) and expected in str(error.value)


def test_an_image_folder_whose_classes_hold_no_images_says_so(tmp_path):
    (tmp_path / "cats").mkdir()
    _write(tmp_path / "cats" / "readme.txt", "no pictures here")
    with pytest.warns(DataWarning), pytest.raises(DataError, match=r"no image files \(.*\.png"):
        ImageFolderDataset(tmp_path)


# -- text corpora ----------------------------------------------------------------------------------
def test_parallel_files_of_different_lengths_name_both_counts(tmp_path):
    source, target = _write(tmp_path / "a.de", "eins\nzwei\ndrei\n"), _write(tmp_path / "a.en", "one\ntwo\n")
    with pytest.raises(DataError, match=r"a\.de has 3 lines but .*a\.en has 2; parallel files must be line-aligned"):
        ParallelTextDataset(source, target)


@pytest.fixture
def bad_corpus(tmp_path):
    """Two aligned files: line 2 empty on the source side, line 3 too long, line 5 empty on the target side."""
    source = _write(tmp_path / "a.de", "eins\n\nzwei " + "x" * 40 + "\ndrei\nvier\n")
    target = _write(tmp_path / "a.en", "one\ntwo\nthree\nthree again\n\n")
    return source, target


@pytest.mark.parametrize("policy, pairs", [
    ("skip", [("eins", "one"), ("drei", "three again")]),
    ("truncate", [("eins", "one"), ("zwei " + "x" * 15, "three"), ("drei", "three again")]),
])
def test_empty_and_long_lines_follow_the_policy_counted_and_warned_once(bad_corpus, policy, pairs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = ParallelTextDataset(*bad_corpus, max_chars=20, on_bad_line=policy)
    assert dataset.field_names() == ["source", "target"]
    assert list(zip(dataset.column("source"), dataset.column("target"))) == pairs and dataset.bad_lines == 3
    (warning,) = [w for w in caught if issubclass(w.category, DataWarning)]
    message = str(warning.message)
    assert "a.de" in message and "2 line(s) skipped (empty line), at lines 2, 5" in message
    assert "max_chars=20), at lines 3" in message


def test_the_error_policy_names_the_file_and_line(bad_corpus):
    with pytest.raises(DataError, match=r"a\.de / .*a\.en:2: empty line \(pass on_bad_line='skip'"):
        ParallelTextDataset(*bad_corpus, max_chars=20, on_bad_line="error")


def test_an_unknown_policy_lists_the_policies(bad_corpus):
    with pytest.raises(ValueError, match="on_bad_line='drop' is not allowed; choose one of 'skip', 'truncate', 'error'"):
        ParallelTextDataset(*bad_corpus, on_bad_line="drop")


def test_a_labeled_text_line_without_a_tab_names_file_and_line(tmp_path):
    path = _write(tmp_path / "l.tsv", "gut\tpositive\nschlecht negative\n")
    with pytest.raises(DataError, match=r"l\.tsv:2: no tab; expected 'text<TAB>label'"):
        LabeledTextDataset(path)


def test_a_file_that_is_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "l.tsv"
    path.write_bytes("gut\tpositive\n".encode() + "schön\tpositive\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"l\.tsv:2: not UTF-8 text"):
        LabeledTextDataset(path)


# -- audio manifests and audio files -----------------------------------------------------------------
@pytest.fixture
def audio(tmp_path):
    return tiny_data.audio_manifest(tmp_path, n=2)


def test_a_manifest_line_that_is_not_json_names_file_and_line(audio, tmp_path):
    path = _write(tmp_path / "m.jsonl", audio["train"].read_text().splitlines()[0] + "\n{'audio_filepath': 'x.wav'}\n")
    with pytest.raises(DataError, match=r"m\.jsonl:2: not valid JSON .*expected one JSON object per line"):
        ManifestDataset(path)


def test_a_manifest_entry_without_a_key_names_the_key(tmp_path):
    path = _write(tmp_path / "m.jsonl", json.dumps({"audio_filepath": "a.wav", "text": "one"}) + "\n")
    with pytest.raises(DataError, match=r"m\.jsonl:1: missing key 'duration'"):
        ManifestDataset(path)


def test_a_missing_audio_file_is_skipped_counted_and_warned(audio, tmp_path):
    lines = audio["train"].read_text().splitlines()
    lines.insert(1, json.dumps({"audio_filepath": "gone.wav", "duration": 1.0, "text": "one"}))
    path = _write(tmp_path / "m.jsonl", "\n".join(lines) + "\n")
    with pytest.warns(DataWarning, match=r"m\.jsonl: skipped 1 entries whose audio file is missing \(lines 2\)"):
        dataset = ManifestDataset(path)
    assert len(dataset) == 2 and dataset.filtered["missing_audio"] == 1
    with pytest.raises(DataError, match=r"m\.jsonl:2: audio file .*gone\.wav does not exist"):
        ManifestDataset(path, on_missing_audio="error")


def _damaged_wavs(folder: Path) -> dict[str, Path]:
    empty = folder / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 16000)
    nan = folder / "nan.wav"
    soundfile.write(nan, np.full(4000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    zero_bytes, corrupt = folder / "zero_bytes.wav", folder / "corrupt.wav"
    zero_bytes.write_bytes(b"")
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage")
    return {"zero bytes": zero_bytes, "no samples": empty, "corrupt header": corrupt, "NaN samples": nan}


@pytest.mark.parametrize("damage", ["zero bytes", "no samples", "corrupt header", "NaN samples"])
def test_a_damaged_wav_is_a_value_error_naming_the_file(damage, tmp_path):
    path = _damaged_wavs(tmp_path)[damage]
    with pytest.raises(ValueError, match=str(path)):
        AudioFbankTokenizer(d_model=8).prepare(path)


def test_damaged_wavs_in_training_data_are_skipped_with_a_warning(audio, tmp_path):
    good = [(str(audio["train"].parent / "train_0.wav"), "one"), (str(audio["train"].parent / "train_1.wav"), "two")]
    damaged = [(str(p), "one") for p in _damaged_wavs(tmp_path).values()]
    target = TextCharTokenizer(d_model=8, alphabet="onetw ")
    items = good[:1] + damaged + good[1:]
    raw = RawDataset({"source": [path for path, _ in items], "target": [text for _, text in items]})
    prepared = PreparedDataset(raw, {"source": AudioFbankTokenizer(d_model=8), "target": target})
    batch = prepared.collate([prepared[i] for i in range(len(prepared))])
    assert batch["source"].values.size(0) == batch["target"].values.size(0) == 2 and prepared.failures == 4
    with pytest.warns(DataWarning, match=r"train split: skipped 4 item\(s\)") as caught:
        SkippedItems().warn("train", prepared)
    for path, _ in damaged:
        assert path in str(caught[0].message)


def test_a_wav_at_another_sample_rate_is_resampled(tmp_path):
    tokenizer = AudioFbankTokenizer(d_model=8, n_mels=20)
    frames = {}
    for rate in (8000, 16000, 44100):
        path = tmp_path / f"{rate}.wav"
        soundfile.write(path, tiny_data.tone(0.5, 440.0, rate), rate)
        frames[rate] = tokenizer.prepare(path)
    assert {tuple(f.shape) for f in frames.values()} == {(51, 20)}  # 0.5 s at the 10 ms hop of 16 kHz
    assert all(torch.isfinite(f).all() for f in frames.values())
    # the same tone gives the same loudest band whatever the file's rate
    assert len({int(f.mean(0).argmax()) for f in frames.values()}) == 1


# -- image folders and image files -------------------------------------------------------------------
@pytest.fixture
def images(tmp_path):
    root = tiny_data.image_folder(tmp_path / "images", n_per_class=2)
    _write(root / "dark" / "notes.txt", "not an image")
    (root / "bright" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def test_non_image_files_in_class_folders_are_skipped_and_counted(images):
    with pytest.warns(DataWarning, match=r"skipped 1 non-image file\(s\), e\.g\. .*notes\.txt"):
        dataset = ImageFolderDataset(images)
    assert dataset.skipped == 1 and len(dataset) == 5
    assert not any(path.endswith("notes.txt") for path in dataset.column("source"))


def test_a_grey_image_is_converted_when_rgb_is_configured(images):
    tokenizer = ImagePatchTokenizer(d_model=8, image_size=16, patch_size=4, channels=3)
    grey = images / "dark" / "0.png"
    assert Image.open(grey).mode == "L"
    pixels = tokenizer.prepare(grey)
    assert pixels.shape == (3, 16, 16) and torch.equal(pixels[0], pixels[1]) and torch.equal(pixels[1], pixels[2])


def test_a_corrupt_png_in_training_data_is_skipped_with_a_warning(images):
    with pytest.warns(DataWarning):
        dataset = ImageFolderDataset(images)
    labels = LabelTokenizer(classes=dataset.classes)
    prepared = PreparedDataset(dataset, {"source": ImagePatchTokenizer(d_model=8, image_size=16, patch_size=4),
                                         "target": labels})
    batch = prepared.collate([prepared[i] for i in range(len(prepared))])
    assert batch["source"].values.shape == (4, 1, 16, 16) and batch["target"].values.size(0) == 4
    assert prepared.failures == 1
    with pytest.warns(DataWarning, match=r"train split: skipped 1 item\(s\) .*broken\.png: not a readable image"):
        SkippedItems().warn("train", prepared)


# -- labels --------------------------------------------------------------------------------------------
def test_a_label_seen_only_in_test_is_named_with_the_known_ones(tmp_path):
    train = LabeledTextDataset(_write(tmp_path / "train.tsv", "ein hund\tanimal\nrot\tcolour\n"))
    test = LabeledTextDataset(_write(tmp_path / "test.tsv", "ein hund\tanimal\ndrei\tnumber\n"))
    data = DataModule(train, test=test, valid_fraction=0)
    labels = LabelTokenizer()
    labels.fit(train.column("target"))
    known = r"test split \(.*test\.tsv\): label\(s\) 'number' not seen in training; known labels: animal, colour"
    with pytest.raises(ValueError, match=known):
        data.attach({"source": TextCharTokenizer(d_model=8, alphabet="abc"), "target": labels})
