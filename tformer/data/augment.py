"""Waveform augmentation for speech training (torchaudio): speed, tempo, pitch, noise, rooms, telephones.

``Augmentations`` composes steps, each applied with its own probability ``p``, and is handed to
``DataModule(augment={"source": ...})``, which applies it to the training split only, in the
DataLoader workers, before the tokenizer's ``prepare``. Randomness comes from a
``torch.Generator`` when one is given (tests), else from torch's global generator, which the
DataLoader seeds per worker and epoch: fresh draws each epoch, the same run under the same seed.

Each step maps a (N,) float waveform at ``rate`` Hz to another.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import torch
import torchaudio.functional as F
from torch import Tensor

from tformer.tokenizers.audio import read_audio

__all__ = [
    "Augmentations", "SpeedPerturbation", "Tempo", "PitchShift", "AddNoise", "Reverberation", "TelephoneBand",
    "change_speed", "stretch", "room_impulse",
]

N_FFT, HOP = 512, 128  # the phase vocoder's STFT: 32 ms windows, 8 ms hops at 16 kHz


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def _choice(values: Sequence[Any], generator: torch.Generator | None) -> Any:
    return values[int(torch.randint(len(values), (), generator=generator))]


def change_speed(wave: Tensor, rate: int, factor: float) -> tuple[Tensor, float]:
    """Play ``wave`` ``factor`` times faster (higher pitch, shorter), by resampling.

    The source rate is rounded to 100 Hz so that the resampling ratio has small terms (an
    arbitrary ratio makes torchaudio's polyphase resampler very slow).

    Args:
        wave: (N,) samples.
        rate: its sample rate.
        factor: the speed factor (1.1: 10% faster).
    Returns:
        (about N / factor,) samples at ``rate`` and the factor applied after rounding.
    """
    source = max(100, round(rate * factor / 100) * 100)
    if source == rate:
        return wave, 1.0
    return F.resample(wave, source, rate), source / rate


def stretch(wave: Tensor, factor: float) -> Tensor:
    """Change the tempo by ``factor`` without changing the pitch (phase vocoder).

    Args:
        wave: (N,) samples.
        factor: the tempo factor (1.25: 25% faster).
    Returns:
        (round(N / factor),) samples.
    """
    if wave.numel() <= N_FFT or factor == 1:
        return wave
    window = torch.hann_window(N_FFT)
    spec = torch.stft(wave, N_FFT, HOP, window=window, return_complex=True)  # (F, T)
    advance = torch.linspace(0, math.pi * HOP, spec.size(0))[:, None]
    spec = F.phase_vocoder(spec, factor, advance)
    return torch.istft(spec, N_FFT, HOP, window=window, length=round(wave.numel() / factor))


def room_impulse(rt60: float, rate: int, generator: torch.Generator | None = None) -> Tensor:
    """A synthetic room impulse response: the direct path, then exponentially decaying noise.

    The envelope falls by 60 dB in ``rt60`` seconds (amplitude ``exp(-3 ln(10) t / rt60)``).

    Args:
        rt60: the reverberation time, seconds.
        rate: the sample rate.
        generator: the random source.
    Returns:
        (round(rt60 * rate),) samples of unit energy.
    """
    t = torch.arange(max(2, round(rt60 * rate))) / rate
    rir = torch.randn(t.numel(), generator=generator) * torch.exp(-3 * math.log(10) * t / rt60)
    rir[0] = 1.0
    return rir / rir.norm()


class SpeedPerturbation:
    """Speed perturbation (Ko et al. 2015): tempo and pitch together, a factor drawn from ``factors``.

    Args:
        factors: the speed factors to choose from (Kaldi uses 0.9, 1.0, 1.1).
        p: the probability of applying it.
    """

    def __init__(self, factors: Sequence[float] = (0.9, 1.0, 1.1), p: float = 1.0):
        self.factors, self.p = list(factors), p

    def __call__(self, wave: Tensor, rate: int, generator: torch.Generator | None = None) -> Tensor:
        return change_speed(wave, rate, _choice(self.factors, generator))[0]


class Tempo:
    """Faster or slower speech at the same pitch, a factor drawn uniformly from ``[low, high]``.

    Args:
        low, high: the range of tempo factors.
        p: the probability of applying it.
    """

    def __init__(self, low: float = 0.85, high: float = 1.15, p: float = 0.5):
        self.low, self.high, self.p = low, high, p

    def __call__(self, wave: Tensor, rate: int, generator: torch.Generator | None = None) -> Tensor:
        return stretch(wave, _uniform(self.low, self.high, generator))


class PitchShift:
    """A higher or lower voice at the same tempo: a phase-vocoder stretch, then a speed change.

    (``torchaudio.functional.pitch_shift`` resamples at ratios with large terms: a minute for
    two seconds of audio on a CPU; this rounds the ratio instead, to about 0.1 semitone.)

    Args:
        semitones: the shifts to choose from.
        p: the probability of applying it.
    """

    def __init__(self, semitones: Sequence[float] = (-3, -2, -1, 1, 2, 3), p: float = 0.5):
        self.semitones, self.p = list(semitones), p

    def __call__(self, wave: Tensor, rate: int, generator: torch.Generator | None = None) -> Tensor:
        factor = 2 ** (_choice(self.semitones, generator) / 12)
        factor = max(100, round(rate * factor / 100) * 100) / rate  # what change_speed will apply
        return change_speed(stretch(wave, 1 / factor), rate, factor)[0]


class AddNoise:
    """White Gaussian noise at a signal-to-noise ratio drawn from ``snr_db`` (``torchaudio.functional.add_noise``).

    Args:
        snr_db: the SNRs to choose from, in dB.
        p: the probability of applying it.
    """

    def __init__(self, snr_db: Sequence[float] = (5, 10, 20, 30), p: float = 0.5):
        self.snr_db, self.p = list(snr_db), p

    def __call__(self, wave: Tensor, rate: int, generator: torch.Generator | None = None) -> Tensor:
        snr = torch.tensor([float(_choice(self.snr_db, generator))])
        noise = torch.randn(wave.shape, generator=generator)
        return F.add_noise(wave[None], noise[None], snr)[0]


class Reverberation:
    """A room: convolution (``torchaudio.functional.fftconvolve``) with ``room_impulse`` of an RT60
    drawn uniformly from ``[low, high]`` seconds; the same length and peak as the input.

    Args:
        low, high: the range of reverberation times, seconds.
        p: the probability of applying it.
    """

    def __init__(self, low: float = 0.2, high: float = 0.8, p: float = 0.3):
        self.low, self.high, self.p = low, high, p

    def __call__(self, wave: Tensor, rate: int, generator: torch.Generator | None = None) -> Tensor:
        rir = room_impulse(_uniform(self.low, self.high, generator), rate, generator)
        full = wave.numel() + rir.numel() - 1  # padded to a power of two: 3x faster FFTs
        out = F.fftconvolve(torch.nn.functional.pad(wave, (0, (1 << (full - 1).bit_length()) - full)), rir)
        out = out[: wave.numel()]
        return out * (wave.abs().max() / out.abs().max().clamp_min(1e-8))


class TelephoneBand:
    """Telephone speech: down to ``band_rate`` Hz and back up (``torchaudio.functional.resample``),
    which removes everything above ``band_rate / 2`` (a sharper low-pass than the default: 16
    zero crossings, cut at 95 % of ``band_rate / 2``; the default leaks 0.7 % of white noise's
    energy above 4 kHz, this 0.001 %).

    Args:
        band_rate: the narrow-band sample rate (8000: up to 4 kHz).
        p: the probability of applying it.
    """

    def __init__(self, band_rate: int = 8000, p: float = 0.2):
        self.band_rate, self.p = band_rate, p

    def __call__(self, wave: Tensor, rate: int, generator: torch.Generator | None = None) -> Tensor:
        if rate <= self.band_rate:
            return wave
        narrow = F.resample(wave, rate, self.band_rate, lowpass_filter_width=16, rolloff=0.95)
        return F.resample(narrow, self.band_rate, rate, lowpass_filter_width=16, rolloff=0.95)[: wave.numel()]


class Augmentations:
    """Steps applied in order, each with its probability ``p``, to a clip of the training split.

    Args:
        steps: the augmentations (objects with ``p`` and ``__call__(wave, rate, generator)``).
    """

    def __init__(self, steps: Sequence[Any]):
        self.steps = list(steps)
        for step in self.steps:
            if not 0 <= step.p <= 1:
                raise ValueError(f"augment step {type(step).__name__}: p={step.p!r} must be in [0, 1]")

    def __call__(self, raw: Any, generator: torch.Generator | None = None) -> tuple[Tensor, int]:
        """A path or a ``(waveform, rate)`` pair -> the augmented ``(waveform, rate)`` pair.

        Args:
            raw: the raw audio item.
            generator: the random source; torch's global one when None.
        Returns:
            The (N',) waveform and its rate, as the audio tokenizer's ``prepare`` reads them.
        """
        wave, rate = read_audio(raw) if isinstance(raw, (str, Path)) else raw
        wave = torch.as_tensor(wave, dtype=torch.float32)
        for step in self.steps:
            if torch.rand((), generator=generator).item() < step.p:
                wave = step(wave, rate, generator)
        return wave, rate
