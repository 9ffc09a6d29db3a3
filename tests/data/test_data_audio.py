"""Audio manifests (NeMo JSON lines)."""

import json

import numpy as np
import pytest
import soundfile

from tformer.data import DataError, DataWarning, ManifestDataset
from tformer.registry import DATASETS


def write_wav(path, seconds):
    soundfile.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)


def make_manifest(tmp_path, extra_lines=()):
    (tmp_path / "wav").mkdir()
    lines = []
    for i, seconds in enumerate((0.5, 1.0, 2.0)):
        write_wav(tmp_path / "wav" / f"{i}.wav", seconds)
        lines.append(json.dumps({"audio_filepath": f"wav/{i}.wav", "duration": seconds, "text": f"t{i}", "label": i}))
    lines.append(json.dumps({"audio_filepath": "wav/missing.wav", "duration": 1.0, "text": "gone", "label": 9}))
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join([*lines, "", *extra_lines]) + "\n")
    return path


def test_manifest(tmp_path):
    path = make_manifest(tmp_path)
    with pytest.warns(DataWarning, match=r"skipped 1 entries whose audio file is missing \(lines 4\)"):
        data = DATASETS.build("audio_manifest", path=str(path))
    assert len(data) == 3 and data.durations == [0.5, 1.0, 2.0] and data.filtered["missing_audio"] == 1
    assert data[1] == {"source": str(tmp_path / "wav" / "1.wav"), "target": "t1"}
    assert data.size_hints() == {"source": [50.0, 100.0, 200.0], "target": [2.0, 2.0, 2.0]}


def test_label_key_and_duration_filters(tmp_path):
    path = make_manifest(tmp_path)
    with pytest.warns(DataWarning):
        data = ManifestDataset(path, label_key="label", min_duration=0.6, max_duration=1.5)
    assert data.column("target") == ["1"] and data.filtered == {"missing_audio": 1, "too_short": 1, "too_long": 1}


def test_missing_audio_error_policy(tmp_path):
    path = make_manifest(tmp_path)
    with pytest.raises(DataError, match=r"m\.jsonl:4: audio file .*missing\.wav does not exist"):
        ManifestDataset(path, on_missing_audio="error")


@pytest.mark.parametrize("line, expected", [
    ("{not json", r"m\.jsonl:6: not valid JSON .*expected one JSON object per line"),
    ('["a list"]', r"m\.jsonl:6: found a JSON list"),
    ('{"audio_filepath": "wav/0.wav", "text": "x"}', r"m\.jsonl:6: missing key 'duration'"),
    ('{"audio_filepath": "wav/0.wav", "duration": "1s", "text": "x"}', r"m\.jsonl:6: 'duration' must be a number"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, expected):
    path = make_manifest(tmp_path, extra_lines=[line])
    with pytest.raises(DataError, match=expected):
        ManifestDataset(path)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match=r"none\.jsonl: no such file; expected a JSON-lines manifest"):
        ManifestDataset(tmp_path / "none.jsonl")
