"""The ``fillets_speech`` data set: Czech, Dutch and English voice actors with their lines (see ``fillets``)."""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Sequence

from tformer.data.audio import FRAMES_PER_SECOND
from tformer.data.builtin import Builtin, prepared_folder, register_builtin
from tformer.data.datasets import RawDataset
from tformer.data.errors import DataError
from tformer.data.fillets import GAME_DIR, LANGUAGES, SPLITS, prepare_fillets_speech
from tformer.kinds import AUDIO, LABEL, TEXT, gives
from tformer.registry import DATASETS

__all__ = ["FilletsSpeechDataset", "fillets_speech"]

_FIELDS = {"audio": AUDIO, "text": TEXT, "transcript": TEXT, "translation": TEXT, "speaker": LABEL, "language": LABEL}

register_builtin(Builtin(
    "fillets_speech", "Czech, Dutch and English voice actors of Fish Fillets NG, 16 kHz, with transcripts "
    "and English lines (fillets-ng-data, -cs, -nl)", prepare_fillets_speech, {"game_dir": GAME_DIR},
))


class FilletsSpeechDataset(RawDataset):
    """Clips of one split in one or more languages.

    Fields: ``audio`` (a WAV path), ``text`` (the transcript normalized for recognition: lower
    case, no punctuation), ``transcript`` (as written), ``translation`` (the English line as
    written), ``speaker`` (the character) and ``language``.

    Args:
        manifests: the split's ``.jsonl`` files, one per language.
        max_duration: drop longer clips (seconds); none dropped when None.
    """

    fields = dict(_FIELDS)

    def __init__(self, manifests: Sequence[str | PathLike], max_duration: float | None = None):
        rows = []
        for manifest in map(Path, manifests):
            for line in manifest.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if max_duration is None or row["duration"] <= max_duration:
                    row["audio"] = str(manifest.parent.parent / row["audio_filepath"])
                    rows.append(row)
        self.durations = [row["duration"] for row in rows]
        super().__init__({name: [row[name] for row in rows] for name in _FIELDS})

    def size_hints(self) -> dict[str, list[float]]:
        """Feature frames per clip, characters per text, 1 per label."""
        hints = {name: [float(len(v)) for v in self.column(name)] for name in ("text", "transcript", "translation")}
        return {"audio": [d * FRAMES_PER_SECOND for d in self.durations], **hints,
                "speaker": [1.0] * len(self), "language": [1.0] * len(self)}


def _languages(language: str | Sequence[str]) -> list[str]:
    chosen = language.split("+") if isinstance(language, str) else list(language)
    unknown = [lang for lang in chosen if lang not in LANGUAGES]
    if unknown or not chosen:
        raise DataError(f"fillets_speech: language={language!r}: each must be one of {', '.join(LANGUAGES)} "
                        f"(several as 'cs+nl')")
    return chosen


@DATASETS.register("fillets_speech")
@gives(**_FIELDS)
def fillets_speech(
    split: str = "train", language: str | Sequence[str] = "cs", root: str | None = None,
    max_duration: float | None = None, game_dir: str = GAME_DIR,
) -> FilletsSpeechDataset:
    """One split of the Fish Fillets NG speech, prepared on first use (about a minute).

    Args:
        split: "train", "valid", "test" (lines unheard in training, voices heard) or "test_unseen"
            (Czech characters training never hears; empty for Dutch and English).
        language: "cs", "nl", "en" (English: test only), or several joined by "+" ("cs+nl").
        root: the data root (see ``tformer.data.builtin.data_root``).
        max_duration: drop longer clips (seconds).
        game_dir: the game's data folder (a copy elsewhere prepares a folder of its own).
    Returns:
        Items with fields ``audio``, ``text``, ``transcript``, ``translation``, ``speaker``, ``language``.
    """
    if split not in SPLITS:
        raise DataError(f"fillets_speech: split={split!r} is not one of {', '.join(SPLITS)}")
    options = {} if game_dir == GAME_DIR else {"game_dir": game_dir}
    folder = prepared_folder("fillets_speech", root, **options)
    return FilletsSpeechDataset([folder / lang / f"{split}.jsonl" for lang in _languages(language)], max_duration)
