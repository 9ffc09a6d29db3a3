"""More synthesizers in the built-in speech data: flite and festival next to espeak-ng."""

import json
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

from tformer.data import BUILTINS, DataError, prepared_folder
from tformer.data.builtin import dataset_folder
from tformer.data.espeak import PACE, SPEEDS, PITCHES, VOICES, synthesize
from tformer.data.speech_text import DIGIT_WORDS, digit_string, texts_for_splits
from tformer.data.synthesis import SYNTHESIZERS
from tformer.data.synthesizers import Festival

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
needs_flite_festival = pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("festival") is None,
    reason="flite or festival is not installed (apt-get install -y flite festival festvox-kallpc16k festvox-us-slt-hts)",
)
SIZES = {"train_size": 10, "valid_size": 2, "test_size": 2}


def _entries(folder, split):
    return [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()]


@needs_espeak
def test_the_default_is_espeak_alone_with_the_draws_and_files_of_before(tmp_path):
    folder = prepared_folder("espeak_digits", tmp_path, train_size=3, valid_size=1, test_size=1)
    builtin = BUILTINS["espeak_digits"]
    before = {k: v for k, v in builtin.defaults.items() if k not in ("synthesizers", "stretch")}  # the options before the new ones
    assert folder == dataset_folder(builtin, tmp_path, {**before, "train_size": 3, "valid_size": 1, "test_size": 1})
    # The reference: tformer's draws before synthesizers existed, one random source in split order.
    rng, variants = random.Random(0), {"train": [], "valid": [], "test": []}
    texts = texts_for_splits(digit_string, {"train": 3, "valid": 1, "test": 1}, 0)
    for split in ("train", "valid", "test"):
        usable = SYNTHESIZERS["espeak"].usable_voices()[split]
        for entry, text in zip(_entries(folder, split), texts[split]):
            expected = {"voice": rng.choice(VOICES), "variant": rng.choice(usable),
                        "speed": rng.randint(*SPEEDS), "pitch": rng.randint(*PITCHES)}
            assert list(entry) == ["audio_filepath", "duration", "text", "digits", "n_digits", *expected]
            assert {k: entry[k] for k in expected} == expected and entry["text"] == text[0]
            synthesize(entry["text"], str(tmp_path / "ref.wav"), **expected)
            assert (tmp_path / "ref.wav").read_bytes() == (folder / entry["audio_filepath"]).read_bytes()


@needs_espeak
def test_one_voice_speaks_every_split_with_the_round_trip_reference_voice(tmp_path):
    folder = prepared_folder("espeak_digits", tmp_path, train_size=3, valid_size=1, test_size=1,
                             synthesizers=["espeak_one_voice"])
    assert folder != dataset_folder(BUILTINS["espeak_digits"], tmp_path, {**BUILTINS["espeak_digits"].defaults,
                                                                          "train_size": 3, "valid_size": 1, "test_size": 1})
    for split in ("train", "valid", "test"):
        for entry in _entries(folder, split):
            assert {k: entry[k] for k in ("voice", "variant", "speed", "pitch")} == {
                "voice": "en", "variant": "m3", "speed": 160, "pitch": 50}
            synthesize(entry["text"], str(tmp_path / "ref.wav"))  # synthesize's defaults: benchmarks.tts_roundtrip's voice
            assert (tmp_path / "ref.wav").read_bytes() == (folder / entry["audio_filepath"]).read_bytes()
    assert json.loads((folder / "info.json").read_text())["one_voice"]["variant"] == "m3"


@needs_flite_festival
def test_flite_and_festival_speak_the_manifest_text_at_16k_with_disjoint_people(tmp_path):
    folder = prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["flite", "festival"])
    splits = {split: _entries(folder, split) for split in ("train", "valid", "test")}
    assert {e["synthesizer"] for e in splits["train"]} == {"flite", "festival"}
    people = {split: {e["speaker"] for e in entries} for split, entries in splits.items()}
    assert not people["train"] & (people["valid"] | people["test"])
    for entry in [e for entries in splits.values() for e in entries]:
        audio, rate = soundfile.read(folder / entry["audio_filepath"])
        assert rate == 16000 and abs(len(audio) / rate - entry["duration"]) < 1e-3 and np.abs(audio).max() > 0.05
        assert entry["digits"] == "".join(str(DIGIT_WORDS.index(w)) for w in entry["text"].split())
    # The reference: each program run by hand on the manifest's text, voice and stretch.
    for entry in [next(e for e in splits["train"] if e["synthesizer"] == name) for name in ("flite", "festival")]:
        expected = _render_by_hand(entry, tmp_path / "ref.wav")
        got, _ = soundfile.read(folder / entry["audio_filepath"], dtype="float32")
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 3 / 32768  # 16-bit rounding


def _render_by_hand(entry, path):
    if entry["synthesizer"] == "flite":
        command = ["flite", "-voice", entry["voice"], "--setf", f"duration_stretch={entry['stretch']}",
                   "-t", entry["text"], "-o", str(path)]
    else:
        (path.parent / "text.txt").write_text(entry["text"])
        command = ["text2wave", "-eval", f"(voice_{entry['voice']})", "-eval",
                   f"(Parameter.set 'Duration_Stretch {entry['stretch']})", str(path.parent / "text.txt"), "-o", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    audio, rate = soundfile.read(path, dtype="float32")
    audio = torchaudio.functional.resample(torch.from_numpy(audio), rate, 16000).clamp(-1, 1)
    return audio.numpy()


@needs_espeak
def test_stretch_slows_every_synthesizer_by_the_drawn_duration_factor(tmp_path):
    sizes = {"train_size": 6, "valid_size": 2, "test_size": 2}
    slow = prepared_folder("espeak_digits", tmp_path, **sizes, stretch=[1.5, 2.0])
    assert slow != prepared_folder("espeak_digits", tmp_path, **sizes)
    assert json.loads((slow / "info.json").read_text())["options"]["stretch"] == [1.5, 2.0]
    for split in ("train", "valid", "test"):
        for entry in _entries(slow, split):  # espeak's words a minute: PACE at factor 1
            assert round(PACE / 2.0) <= entry["speed"] <= round(PACE / 1.5)
    # The same text at a fixed factor 2 against 1: espeak at 80 against 160 words a minute.
    text = _entries(slow, "train")[0]["text"]
    seconds = {factor: synthesize(text, str(tmp_path / f"{factor}.wav"), speed=round(PACE / factor)) for factor in (1, 2)}
    fixed = {factor: prepared_folder("espeak_digits", tmp_path, train_size=1, valid_size=1, test_size=1,
                                     stretch=[factor, factor]) for factor in (1, 2)}
    lengths = {factor: _entries(folder, "train")[0]["duration"] for factor, folder in fixed.items()}
    assert lengths[2] / lengths[1] > 1.6 and seconds[2] / seconds[1] > 1.6


@needs_flite_festival
def test_stretch_is_flites_and_festivals_duration_stretch(tmp_path):
    folder = prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["flite", "festival"], stretch=[1.6, 1.9])
    entries = [e for split in ("train", "valid", "test") for e in _entries(folder, split)]
    assert {e["synthesizer"] for e in entries} == {"flite", "festival"}
    assert all(1.6 <= e["stretch"] <= 1.9 for e in entries)
    for entry in [next(e for e in entries if e["synthesizer"] == name) for name in ("flite", "festival")]:
        expected = _render_by_hand(entry, tmp_path / "ref.wav")
        got, _ = soundfile.read(folder / entry["audio_filepath"], dtype="float32")
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 3 / 32768


@pytest.mark.parametrize("stretch", [[2.0, 1.0], [0.2, 1.0], [1.0, 3.0], [1.5], "slow", "12"])
def test_a_bad_stretch_names_the_option_and_its_range(tmp_path, stretch):
    with pytest.raises(ValueError, match=r"stretch=.* must be \[low, high\] duration factors with 0.5 <= low <= high <= 2.0"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, stretch=stretch)
    assert not list(tmp_path.iterdir())


@needs_espeak
def test_one_voice_refuses_a_stretch(tmp_path):
    with pytest.raises(ValueError, match=r"which espeak_one_voice keeps at 160 words a minute; leave stretch null"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["espeak_one_voice"], stretch=[1.0, 1.5])
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]  # nothing half-written


def test_unknown_or_malformed_synthesizers_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="synthesizers: unknown 'sam'; known: espeak, flite, festival"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["espeak", "sam"])
    with pytest.raises(ValueError, match="synthesizers='flite' must be a non-empty list"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers="flite")
    assert not list(tmp_path.iterdir())


def test_festival_alone_has_no_test_voice(tmp_path, monkeypatch):
    monkeypatch.setattr(Festival, "installed_voices", lambda self: set(self.speakers))
    with pytest.raises(DataError, match=r"synthesizers=\['festival'\] has no voice for the valid split"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["festival"])


def test_missing_programs_and_voices_give_the_apt_line(tmp_path, monkeypatch):
    monkeypatch.setattr(Festival, "installed_voices", lambda self: {"kal_diphone"})
    with pytest.raises(DataError, match="lacks the voice.s. cmu_us_slt_arctic_hts; .*apt-get install -y festvox-us-slt-hts"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["espeak", "festival"])
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="flite not found; install it: apt-get install -y flite$"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["flite"])
    monkeypatch.undo()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="apt-get install -y festival festvox-kallpc16k festvox-us-slt-hts"):
        prepared_folder("espeak_digits", tmp_path, **SIZES, synthesizers=["festival"])


@needs_espeak
def test_the_data_are_the_same_for_any_number_of_processes(tmp_path, monkeypatch):
    made = {}
    for processes in ("1", "3"):  # 3 processes share 2 chunks of train (32 utterances a chunk) and the rest
        monkeypatch.setenv("TFORMER_DATA_PROCESSES", processes)
        folder = prepared_folder("espeak_digits", tmp_path / processes, train_size=40, valid_size=2, test_size=2)
        made[processes] = {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}
        info = json.loads(made[processes].pop(Path("info.json")))
        assert info.pop("seconds") >= 0  # the preparation time, the one thing that may differ
        made[processes]["info"] = info
    assert len(made["1"]) == 40 + 2 + 2 + 3 + 1 and made["1"] == made["3"]  # the WAVs, 3 manifests and info.json
