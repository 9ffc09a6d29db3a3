"""recorded_digits, prepared from a tiny prompts folder in the real format (8 kHz 16-bit WAV per digit)."""

import json

import numpy as np
import pytest
import soundfile

from tformer.data import DataError, recorded_digits
from tformer.data.builtin import prepared_folder
from tformer.data.recorded_digits import EDGE_S, MARGIN_S, PAUSE_S, trim_silence
from tformer.data.speech_text import DIGIT_WORDS

RATE = 8000


def _word(digit: int) -> np.ndarray:
    """0.2 s of silence, a tone of 0.1 + 0.01 * digit s, 0.3 s of silence: the length names the digit."""
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(RATE * (0.1 + 0.01 * digit))) / RATE)
    return np.concatenate([np.zeros(int(RATE * 0.2)), tone, np.zeros(int(RATE * 0.3))]).astype(np.float32)


def _prompts(folder, rate=RATE):
    (folder / "digits").mkdir(parents=True)
    for digit in range(10):
        soundfile.write(folder / "digits" / f"{digit}.wav", _word(digit), rate, subtype="PCM_16")
    return folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("recorded")
    sounds = _prompts(root / "sounds")
    data = recorded_digits(root=str(root / "data"), test_size=12, sounds_dir=str(sounds))
    folder = prepared_folder("recorded_digits", root / "data", test_size=12, sounds_dir=str(sounds))
    return data, sounds, folder


def test_trim_silence_keeps_the_speech_and_its_margins():
    trimmed = trim_silence(_word(3), RATE)
    speech = int(RATE * 0.13)
    assert abs(len(trimmed) - (speech + 2 * int(RATE * MARGIN_S))) <= RATE * 0.01  # one 10 ms frame
    assert np.abs(trimmed).max() == pytest.approx(np.abs(_word(3)).max())
    assert len(trim_silence(np.zeros(5, dtype=np.float32), RATE)) == 5  # shorter than a frame: unchanged


def test_each_string_joins_its_digits_with_pauses_at_16_khz(prepared):
    data, _, folder = prepared
    manifest = [json.loads(line) for line in (folder / "test.jsonl").read_text().splitlines()]
    assert len(data) == len(manifest) == 12
    for number, entry in enumerate(manifest):
        item = data[number]
        assert item["target"] == entry["text"] == " ".join(DIGIT_WORDS[int(d)] for d in entry["digits"])
        assert entry["n_digits"] == len(entry["digits"]) and 1 <= entry["n_digits"] <= 7
        audio, rate = soundfile.read(item["source"])
        assert rate == 16000 and len(audio) / rate == pytest.approx(entry["duration"], abs=1e-3)
        words = sum(0.1 + 0.01 * int(d) + 2 * MARGIN_S for d in entry["digits"])
        gaps = entry["n_digits"] - 1
        low, high = 2 * EDGE_S + words + gaps * PAUSE_S[0], 2 * EDGE_S + words + gaps * PAUSE_S[1]
        assert low - 0.02 * entry["n_digits"] <= entry["duration"] <= high + 0.02 * entry["n_digits"]
        loud = np.flatnonzero(np.abs(audio) > 0.1)
        assert loud[0] / rate == pytest.approx(EDGE_S + MARGIN_S, abs=0.015)  # silence, then the first tone


def test_the_digits_label_reads_the_same_strings(prepared):
    data, sounds, folder = prepared
    digits = recorded_digits(root=str(folder.parent), test_size=12, sounds_dir=str(sounds), label_key="digits")
    assert [digits[i]["target"] for i in range(len(digits))] == [
        "".join(str(DIGIT_WORDS.index(w)) for w in data[i]["target"].split()) for i in range(len(data))]


def test_missing_prompts_name_the_file_and_the_package(tmp_path):
    with pytest.raises(DataError, match=r"digits/0\.wav not found .*apt-get install -y asterisk-core-sounds-en-wav"):
        recorded_digits(root=str(tmp_path / "data"), sounds_dir=str(tmp_path / "nowhere"))


def test_only_a_test_split_one_sample_rate_and_decodable_files(tmp_path):
    with pytest.raises(DataError, match="only a 'test' split"):
        recorded_digits("train", root=str(tmp_path / "data"))
    sounds = _prompts(tmp_path / "sounds")
    soundfile.write(sounds / "digits" / "7.wav", _word(7), 16000, subtype="PCM_16")
    with pytest.raises(DataError, match="different sample rates"):
        recorded_digits(root=str(tmp_path / "data"), sounds_dir=str(sounds))
    (sounds / "digits" / "3.wav").write_bytes(b"RIFF, but not a wave")
    with pytest.raises(DataError, match=r"digits/3\.wav cannot be decoded .*apt-get install -y"):
        recorded_digits(root=str(tmp_path / "data"), sounds_dir=str(sounds))
    assert not list((tmp_path / "data").glob("recorded_digits*/info.json"))  # nothing half-written left as done
