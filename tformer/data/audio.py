"""Audio manifests in JSON lines, NeMo's format: ``{"audio_filepath", "duration", "text"}``."""

from __future__ import annotations

import json
import logging
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

from tformer.data.datasets import RawDataset
from tformer.data.errors import DataError, DataWarning, check_choice, read_lines, require_path
from tformer.kinds import AUDIO, TEXT
from tformer.registry import DATASETS

__all__ = ["ManifestDataset", "FRAMES_PER_SECOND"]

log = logging.getLogger(__name__)
FRAMES_PER_SECOND = 100  # size hint: one feature frame per 10 ms hop
_EXPECTED = 'one JSON object per line, {"audio_filepath": ..., "duration": ..., "text": ...}'


@DATASETS.register("audio_manifest")
class ManifestDataset(RawDataset):
    """Audio files with transcripts (or labels) listed in a JSON-lines manifest.

    Relative audio paths resolve against the manifest's folder. A line that is not a JSON
    object or lacks a key raises ``DataError`` naming file:line; a missing audio file is
    skipped with one warning and a count (``on_missing_audio="skip"``) or raises ("error").
    Entries outside [min_duration, max_duration] are dropped and counted in ``filtered``.

    Args:
        path: the manifest file.
        label_key: the key holding the target, "text" for ASR or e.g. "label" for keyword spotting.
        on_missing_audio: "skip" or "error".
        min_duration: drop shorter utterances (seconds); no limit when None.
        max_duration: drop longer utterances (seconds); no limit when None.
    """

    fields = {"source": AUDIO, "target": TEXT}  # a transcript, or another key's value as a string

    def __init__(
        self,
        path: str | PathLike,
        label_key: str = "text",
        on_missing_audio: str = "skip",
        min_duration: float | None = None,
        max_duration: float | None = None,
    ):
        self.path = require_path(path, "a JSON-lines manifest, " + _EXPECTED)
        self.label_key = label_key
        check_choice("on_missing_audio", on_missing_audio, ("skip", "error"))
        self.filtered = {"missing_audio": 0, "too_short": 0, "too_long": 0}
        pairs, self.durations, missing = [], [], []
        for number, entry in self._entries():
            audio = self.path.parent / Path(entry["audio_filepath"]).expanduser()
            duration = float(entry["duration"])
            if not audio.is_file():
                if on_missing_audio == "error":
                    raise DataError(f"{self.path}:{number}: audio file {audio} does not exist")
                missing.append(number)
            elif min_duration is not None and duration < min_duration:
                self.filtered["too_short"] += 1
            elif max_duration is not None and duration > max_duration:
                self.filtered["too_long"] += 1
            else:
                pairs.append((str(audio), str(entry[label_key])))
                self.durations.append(duration)
        self.filtered["missing_audio"] = len(missing)
        if missing:
            lines = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
            warnings.warn(f"{self.path}: skipped {len(missing)} entries whose audio file is missing (lines {lines})",
                          DataWarning)
        if self.filtered["too_short"] or self.filtered["too_long"]:
            log.info("%s: dropped %s by duration", self.path, self.filtered)
        super().__init__({"source": [audio for audio, _ in pairs], "target": [target for _, target in pairs]})

    def _entries(self) -> list[tuple[int, dict[str, Any]]]:
        entries = []
        for number, line in enumerate(read_lines(self.path), start=1):
            if line.strip():
                entries.append((number, self._parse(number, line)))
        return entries

    def _parse(self, number: int, line: str) -> dict[str, Any]:
        where = f"{self.path}:{number}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not valid JSON ({error.msg}); expected {_EXPECTED}") from None
        if not isinstance(entry, dict):
            raise DataError(f"{where}: found a JSON {type(entry).__name__}; expected {_EXPECTED}")
        for key in ("audio_filepath", "duration", self.label_key):
            if key not in entry:
                raise DataError(f"{where}: missing key {key!r}; expected {_EXPECTED}")
        if not isinstance(entry["duration"], (int, float)) or isinstance(entry["duration"], bool):
            raise DataError(f"{where}: 'duration' must be a number of seconds, found {entry['duration']!r}")
        if not isinstance(entry["audio_filepath"], str):
            raise DataError(f"{where}: 'audio_filepath' must be a string path, found {entry['audio_filepath']!r}")
        return entry

    def size_hints(self) -> dict[str, list[float]]:
        """Feature frames (duration x 100) per utterance, characters per target."""
        return {"source": [d * FRAMES_PER_SECOND for d in self.durations],
                "target": [float(len(str(t))) for t in self.column("target")]}
