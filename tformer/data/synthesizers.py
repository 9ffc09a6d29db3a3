"""Speech synthesizers for the built-in speech data sets, next to espeak-ng: flite and festival.

A synthesizer is a part that declares its voices per split, draws one utterance's settings,
and renders a chunk of utterances into 16 kHz, 16-bit WAV files. flite and festival voices are
cut from or trained on recordings of four people (kal, slt, awb, rms); those people, not
the programs, are kept apart between splits: train hears kal, slt and awb, valid and test
hear only rms (no fifth person exists among these voices, so valid and test share one).
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import soundfile
import torch
import torchaudio

from tformer.data.errors import DataError

__all__ = ["SAMPLE_RATE", "Synthesizer", "Flite", "Festival", "save_wav", "require_program", "check_stretch"]

SAMPLE_RATE = 16000
STRETCH = (0.8, 1.3)  # duration factor; espeak's 120-220 words per minute span about the same
STRETCH_LIMITS = (0.5, 2.0)  # what a data set's ``stretch`` option may ask: espeak speaks 80-450 words a minute


def require_program(program: str, packages: str) -> str:
    """The path of ``program``, or ``DataError`` with the ``apt-get install`` line of ``packages``."""
    path = shutil.which(program)
    if path is None:
        raise DataError(f"{program} not found; install it: apt-get install -y {packages}")
    return path


def check_stretch(stretch: Any) -> tuple[float, float] | None:
    """``stretch`` (a data set option: ``[low, high]`` duration factors, or None) as a tuple;
    ``ValueError`` naming the option and the allowed range otherwise."""
    if stretch is None:
        return None
    low, high = STRETCH_LIMITS
    try:  # a string is no range, though "12" would unpack into two numbers
        first, last = (float(x) for x in stretch) if not isinstance(stretch, str) else (None, None)
    except (TypeError, ValueError):
        first = last = None
    if first is None or not low <= first <= last <= high:
        raise ValueError(f"stretch={stretch!r} must be [low, high] duration factors with {low} <= low <= high <= {high} "
                         "(1: espeak's 160 words a minute, flite's and festival's own pace; 1.5: each utterance half again as long), "
                         "or null for each synthesizer's own range")
    return first, last


def save_wav(audio: torch.Tensor, rate: int, path: str | Path) -> float:
    """Resample a mono float waveform to 16 kHz (torchaudio) and write it as 16-bit PCM WAV.

    Args:
        audio: (N,) samples in [-1, 1].
        rate: its sample rate.
        path: the file to write.
    Returns:
        The duration in seconds.
    """
    if rate != SAMPLE_RATE:
        audio = torchaudio.functional.resample(audio, rate, SAMPLE_RATE)
    buffer = io.BytesIO()  # one write: libsndfile writing straight to a file is ~10x slower
    soundfile.write(buffer, audio.clamp(-1, 1).numpy(), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    Path(path).write_bytes(buffer.getvalue())
    return len(audio) / SAMPLE_RATE


def _resave(path: str) -> float:
    """Read a WAV a synthesizer wrote at its own rate and write it again at 16 kHz."""
    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise DataError(f"{path}: the synthesizer wrote no samples")
    return save_wav(torch.from_numpy(data.mean(axis=1)), rate, path)


class Synthesizer:
    """A speech synthesizer part: its voices per split and how it renders utterances.

    Subclasses set ``name``, ``voices`` (split -> voice names) and ``speakers`` (voice -> the
    person it comes from), and implement ``installed_voices`` and ``run``.
    """

    name = ""
    voices: dict[str, tuple[str, ...]] = {}
    speakers: dict[str, str] = {}

    def installed_voices(self) -> set[str]:
        """The voices this machine has; ``DataError`` with the install line when the program is missing."""
        raise NotImplementedError

    def usable_voices(self) -> dict[str, list[str]]:
        """Per split, the declared voices that are installed; ``DataError`` naming the missing packages."""
        installed = self.installed_voices()
        missing = sorted(v for names in self.voices.values() for v in names if v not in installed)
        if missing:
            raise DataError(f"{self.name} lacks the voice(s) {', '.join(missing)}; {self.install_hint(missing)}")
        return {split: list(names) for split, names in self.voices.items()}

    def install_hint(self, missing: list[str]) -> str:
        """What to install for the ``missing`` voices."""
        return f"installed voices: {', '.join(sorted(self.installed_voices())) or 'none'}"

    def draw(self, rng: random.Random, voices: list[str], stretch: tuple[float, float] | None = None) -> dict[str, Any]:
        """One utterance's settings, as its manifest entry records them.

        Args:
            rng: the random source.
            voices: the voices of the utterance's split.
            stretch: the range of duration factors to draw from (``check_stretch``); None: ``STRETCH``.
        Returns:
            ``synthesizer``, ``voice``, ``speaker`` (the person) and ``stretch`` (duration factor).
        """
        voice = rng.choice(voices)
        return {"synthesizer": self.name, "voice": voice, "speaker": self.speakers[voice],
                "stretch": round(rng.uniform(*(stretch or STRETCH)), 2)}

    def describe(self, usable: dict[str, list[str]]) -> dict[str, Any]:
        """What ``info.json`` records about the voices used per split."""
        return {f"{self.name}_voices": usable}

    def run(self, jobs: list[dict[str, Any]]) -> list[float]:
        """Render ``jobs`` (``text``, ``path`` and ``params`` from ``draw``) into 16 kHz WAV files.

        Returns:
            The duration of each, in seconds.
        """
        raise NotImplementedError


class Flite(Synthesizer):
    """CMU flite's built-in voices (``flite -lv``): kal (diphone, 8 and 16 kHz), slt, awb, rms."""

    name = "flite"
    voices = {"train": ("kal", "kal16", "slt", "awb"), "valid": ("rms",), "test": ("rms",)}
    speakers = {"kal": "kal", "kal16": "kal", "slt": "slt", "awb": "awb", "rms": "rms"}

    def installed_voices(self) -> set[str]:
        listing = subprocess.run([require_program("flite", "flite"), "-lv"], capture_output=True, text=True).stdout
        return set(listing.split(":", 1)[-1].split())

    def install_hint(self, missing: list[str]) -> str:
        return "this flite build lacks them; install Debian's: apt-get install -y flite"

    def run(self, jobs: list[dict[str, Any]]) -> list[float]:
        flite = require_program("flite", "flite")
        durations = []
        for job in jobs:
            params = job["params"]
            command = [flite, "-voice", params["voice"], "--setf", f"duration_stretch={params['stretch']}",
                       "-t", job["text"], "-o", job["path"]]
            result = subprocess.run(command, capture_output=True, check=False)
            if result.returncode != 0:
                raise DataError(f"flite failed on {job['text']!r}: {result.stderr.decode(errors='replace').strip()}")
            durations.append(_resave(job["path"]))
        return durations


class Festival(Synthesizer):
    """festival's kal diphone voice (``festvox-kallpc16k``) and slt HTS voice (``festvox-us-slt-hts``).

    One ``festival --batch`` process renders a whole chunk: starting festival and loading a voice
    take about 0.3-0.6 s, which ``text2wave`` would pay for every utterance.
    """

    name = "festival"
    voices = {"train": ("kal_diphone", "cmu_us_slt_arctic_hts"), "valid": (), "test": ()}
    speakers = {"kal_diphone": "kal", "cmu_us_slt_arctic_hts": "slt"}
    packages = {"kal_diphone": "festvox-kallpc16k", "cmu_us_slt_arctic_hts": "festvox-us-slt-hts"}

    def _festival(self) -> str:
        return require_program("festival", "festival " + " ".join(self.packages.values()))

    def installed_voices(self) -> set[str]:
        result = subprocess.run([self._festival(), "--batch", "(print (voice.list))"], capture_output=True, text=True)
        return set(result.stdout.replace("(", " ").replace(")", " ").split())

    def install_hint(self, missing: list[str]) -> str:
        return f"install them: apt-get install -y {' '.join(self.packages[v] for v in missing)}"

    def run(self, jobs: list[dict[str, Any]]) -> list[float]:
        lines, voice = [], None
        for job in sorted(jobs, key=lambda job: job["params"]["voice"]):  # load each voice once
            if job["params"]["voice"] != voice:
                voice = job["params"]["voice"]
                lines.append(f"(voice_{voice})")
            lines.append(f"(Parameter.set 'Duration_Stretch {job['params']['stretch']})")
            lines.append(f"(utt.save.wave (utt.synth (Utterance Text {_scheme(job['text'])})) {_scheme(job['path'])} 'riff)")
        with tempfile.NamedTemporaryFile("w", suffix=".scm", delete=False) as script:
            script.write("\n".join(lines) + "\n")
        try:
            result = subprocess.run([self._festival(), "--batch", script.name], capture_output=True, check=False)
        finally:
            Path(script.name).unlink()
        if result.returncode != 0:
            raise DataError(f"festival failed: {result.stderr.decode(errors='replace').strip()[-500:]}")
        return [_resave(job["path"]) for job in jobs]


def _scheme(text: str) -> str:
    """``text`` as a Scheme string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
