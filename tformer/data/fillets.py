"""Real human speech: the voice actors of Fish Fillets NG (Czech, Dutch, English) with their lines.

``tformer-data fillets_speech`` decodes every clip of ``fillets-ng-data-cs`` and ``-nl`` (and the
English clips of ``fillets-ng-data``) to 16 kHz mono WAV and writes one NeMo manifest per
language and split, ``<lang>/<split>.jsonl``, each entry with the transcript in the spoken
language (as written, and normalized for recognition), the English line, the lines in every
other language of the script, and the speaking character (which stands for the voice).

Splits are drawn per *line*, not per clip: clips whose English line or transcript (in any
language) is the same fall in one group, and a group goes to one split, so no test line is heard
or read in training, in Czech or Dutch. ``test`` holds lines of characters training also has;
``test_unseen`` holds every clip of the characters in ``UNSEEN_SPEAKERS`` (Czech only: the Dutch
recordings are of the two fish alone). English clips are all ``test``: real speech for models
trained on synthetic voices.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile
import torch
import torchaudio

from tformer.data.builtin import data_processes
from tformer.data.errors import DataError
from tformer.data.fillets_script import Line, in_latin_script, normalize, read_lines
from tformer.data.synthesizers import SAMPLE_RATE, save_wav

__all__ = ["GAME_DIR", "LANGUAGES", "SPLITS", "UNSEEN_SPEAKERS", "prepare_fillets_speech", "assign_splits"]

GAME_DIR = "/usr/share/games/fillets-ng"
LANGUAGES = ("cs", "nl", "en")
SPLITS = ("train", "valid", "test", "test_unseen")
UNSEEN_SPEAKERS = ("font_statue", "font_cyan", "font_linuxer1", "font_linuxer2", "font_parrot")
SILENCE_DB = -55.0  # a clip whose loudest 50 ms window stays below this (dBFS) holds no speech
_PACKAGES = {"cs": "fillets-ng-data-cs", "nl": "fillets-ng-data-nl", "en": "fillets-ng-data"}


class _Groups:
    """Union-find over line keys: clips sharing any key end in one group."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, keys: list[str]) -> str:
        roots = sorted({self.find(k) for k in keys})
        for root in roots[1:]:
            self.parent[root] = roots[0]
        return roots[0]


def _keys(line: Line) -> list[str]:
    return [f"{lang}:{normalize(text)}" for lang, text in sorted(line.texts.items()) if normalize(text)]


def _bucket(key: str) -> float:
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 16**8


def assign_splits(lines: list[Line], test: float = 0.1, valid: float = 0.05) -> dict[tuple[str, str], str]:
    """The split of each line: groups of equal lines together, unseen speakers apart.

    Args:
        lines: every line that has a clip.
        test: the share of groups in ``test``.
        valid: the share of groups in ``valid``.
    Returns:
        ``(level, clip) -> split``; fixed by the texts alone (a hash), not by a random seed.
    """
    groups = _Groups()
    for line in lines:
        groups.union(_keys(line) or [f"clip:{line.level}/{line.clip}"])
    roots = {(ln.level, ln.clip): groups.find((_keys(ln) or [f"clip:{ln.level}/{ln.clip}"])[0]) for ln in lines}
    held = {roots[(ln.level, ln.clip)] for ln in lines if ln.speaker in UNSEEN_SPEAKERS}
    splits = {}
    for line in lines:
        root = roots[(line.level, line.clip)]
        if line.speaker in UNSEEN_SPEAKERS:
            splits[(line.level, line.clip)] = "test_unseen"
        elif root in held:
            splits[(line.level, line.clip)] = "test"  # a seen voice saying an unseen voice's line
        else:
            b = _bucket(root)
            splits[(line.level, line.clip)] = "test" if b < test else "valid" if b < test + valid else "train"
    return splits


def _load(path: Path) -> np.ndarray:
    """A clip as 16 kHz mono float32; raises ``soundfile.SoundFileError`` when it cannot be decoded."""
    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    waveform = torch.from_numpy(audio.mean(axis=1))
    if rate != SAMPLE_RATE:
        waveform = torchaudio.functional.resample(waveform, rate, SAMPLE_RATE)
    return waveform.numpy()


def _loudest_db(waveform: np.ndarray, window: int = SAMPLE_RATE // 20) -> float:
    if len(waveform) == 0:
        return -200.0
    frames = waveform[: len(waveform) // window * window].reshape(-1, window) if len(waveform) >= window \
        else waveform[None, :]
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)).max()
    return float(20 * np.log10(max(rms, 1e-10)))


def _convert(job: tuple[str, str]) -> tuple[str, float | None]:
    """Decode ``source`` and write 16 kHz WAV to ``target``: (outcome, duration)."""
    source, target = job
    try:
        waveform = _load(Path(source))
    except (soundfile.SoundFileError, RuntimeError, ValueError):
        return "undecodable", None
    if _loudest_db(waveform) < SILENCE_DB:
        return "silent", None
    return "ok", save_wav(torch.from_numpy(waveform), SAMPLE_RATE, target)


def _clips(game: Path, language: str, lines: dict[tuple[str, str], Line], skipped: Counter) -> list[tuple[Path, Line]]:
    clips = []
    for path in sorted((game / "sound").glob(f"*/{language}/*.ogg")):
        line = lines.get((path.parent.parent.name, path.stem))
        if line is None or language not in line.texts or not normalize(line.texts[language]):
            skipped["no_transcript"] += 1
        elif not in_latin_script(line.texts[language]):
            skipped["wrong_script"] += 1
        else:
            clips.append((path, line))
    return clips


def _entry(line: Line, language: str, duration: float) -> dict[str, Any]:
    return {
        "audio_filepath": f"audio/{language}/{line.level}/{line.clip}.wav", "duration": round(duration, 3),
        "text": normalize(line.texts[language]), "transcript": line.texts[language],
        "translation": line.texts["en"], "speaker": line.speaker, "language": language,
        "level": line.level, "clip": line.clip, "lines": dict(sorted(line.texts.items())),
    }


def _check_installed(game: Path, languages: tuple[str, ...]) -> None:
    if not (game / "script").is_dir():
        raise DataError(f"{game}/script not found: the Fish Fillets NG texts are missing; install them: "
                        f"apt-get install -y {_PACKAGES['en']}")
    missing = [_PACKAGES[lang] for lang in languages if not any((game / "sound").glob(f"*/{lang}/*.ogg"))]
    if missing:
        raise DataError(f"no recordings under {game}/sound/*/{{{','.join(languages)}}}/; install them: "
                        f"apt-get install -y {' '.join(missing)}")


def prepare_fillets_speech(folder: Path, game_dir: str = GAME_DIR) -> dict[str, Any]:
    """Decode, check and split every clip into ``folder``.

    Args:
        folder: the (temporary) output folder.
        game_dir: the game's data folder (``script/`` and ``sound/``).
    Returns:
        The info record: clips and hours per language and split, and what was skipped and why.
    """
    game = Path(game_dir)
    _check_installed(game, LANGUAGES)
    lines = read_lines(game / "script")
    info: dict[str, Any] = {"languages": {}, "unseen_speakers": list(UNSEEN_SPEAKERS), "sample_rate": SAMPLE_RATE}
    found = {}
    for language in LANGUAGES:
        skipped: Counter = Counter()
        found[language] = (_clips(game, language, lines, skipped), skipped)
    splits = assign_splits([line for clips, _ in found.values() for _, line in clips])
    pool = ProcessPoolExecutor(data_processes(), mp_context=multiprocessing.get_context("spawn")) \
        if len(splits) > 100 else None  # a few clips decode faster than processes start
    try:
        for language, (clips, skipped) in found.items():
            mapper = pool.map if pool else map
            info["languages"][language] = _write_language(folder, language, clips, skipped, splits, mapper)
    finally:
        if pool:
            pool.shutdown()
    info["splits"] = {s: sum(lang["splits"].get(s, 0) for lang in info["languages"].values()) for s in SPLITS}
    return info


def _write_language(folder: Path, language: str, clips: list[tuple[Path, Line]], skipped: Counter,
                    splits: dict[tuple[str, str], str], mapper: Callable) -> dict[str, Any]:
    for path, line in clips:
        (folder / "audio" / language / line.level).mkdir(parents=True, exist_ok=True)
    jobs = [(str(path), str(folder / "audio" / language / line.level / f"{line.clip}.wav")) for path, line in clips]
    entries: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for (path, line), (outcome, duration) in zip(clips, mapper(_convert, jobs)):
        if outcome != "ok":
            skipped[outcome] += 1
            continue
        split = "test" if language == "en" else splits[(line.level, line.clip)]
        entries[split].append(_entry(line, language, duration))
    (folder / language).mkdir(parents=True, exist_ok=True)
    for split, rows in entries.items():
        with open(folder / language / f"{split}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return {
        "splits": {s: len(rows) for s, rows in entries.items()},
        "hours": {s: round(sum(r["duration"] for r in rows) / 3600, 3) for s, rows in entries.items()},
        "speakers": {s: len({r["speaker"] for r in rows}) for s, rows in entries.items()},
        "skipped": dict(sorted(skipped.items())),
    }
