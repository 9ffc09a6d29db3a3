"""Audio frames: log-mel filter banks (torchaudio), SpecAugment, conv subsampling x4, positions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile
import torch
import torchaudio
from torch import Tensor, nn

from ..core.dropout import Dropout
from ..core.positions import embedding_scale
from ..flops import flop_parameters, training_flops
from ..kinds import AUDIO
from ..registry import TOKENIZERS
from .audio_chunks import audio_chunks
from .base import Batch, Tokenizer, build_positions, lengths_to_pad_mask

__all__ = ["AudioFbankTokenizer", "LogMelFeatures", "Conv2dSubsampling", "read_audio"]

MIN_FRAMES = 7  # two 3x3 stride-2 convolutions need 7 frames for one output frame


def read_audio(path: str | Path) -> tuple[Tensor, int]:
    """Read a WAV/FLAC/OGG file -> (mono waveform (N,) float32, sample rate); ``ValueError`` naming the file."""
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)  # (N, C)
    except (soundfile.LibsndfileError, RuntimeError, OSError, TypeError) as error:
        raise ValueError(f"{path}: cannot read audio ({error})") from error
    if data.shape[0] == 0:
        raise ValueError(f"{path}: audio file is empty (0 samples)")
    return torch.from_numpy(data.mean(axis=1)), rate


class LogMelFeatures:
    """Waveform -> per-utterance normalized log-mel frames; plain object, no learnable state.

    Args:
        sample_rate: rate the features are computed at (inputs are resampled to it).
        n_mels: mel bands.
        win_ms, hop_ms: window and hop in milliseconds (25/10 ms: n_fft 400, hop 160 at 16 kHz).
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 80, win_ms: float = 25, hop_ms: float = 10):
        self.sample_rate = sample_rate
        self.win_length = round(sample_rate * win_ms / 1000)
        self.hop_length = round(sample_rate * hop_ms / 1000)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate, n_fft=self.win_length, win_length=self.win_length, hop_length=self.hop_length, n_mels=n_mels
        )

    def min_seconds(self) -> float:
        """Shortest clip that gives ``MIN_FRAMES`` frames (frames = 1 + samples // hop)."""
        return (MIN_FRAMES - 1) * self.hop_length / self.sample_rate

    def __call__(self, wave: Tensor, rate: int, name: str = "audio") -> Tensor:
        """(N,) waveform at ``rate`` -> (T, n_mels) log-mel, mean 0 / std 1 per band over the clip."""
        wave = wave.float()
        if rate != self.sample_rate:
            wave = torchaudio.functional.resample(wave, rate, self.sample_rate)
        frames = 1 + wave.numel() // self.hop_length
        if frames < MIN_FRAMES:
            raise ValueError(
                f"{name}: {wave.numel() / self.sample_rate:.3f} s is too short; the x4 conv subsampling needs "
                f"at least {self.min_seconds():.3f} s ({MIN_FRAMES} frames)"
            )
        features = torch.log(self.mel(wave) + 1e-6).T  # (T, n_mels)
        if not torch.isfinite(features).all():  # a damaged float WAV: NaN, infinite or huge samples
            raise ValueError(f"{name}: the audio gives non-finite features (NaN, infinite or huge samples; expected [-1, 1])")
        mean, std = features.mean(dim=0), features.std(dim=0, unbiased=False)
        return (features - mean) / (std + 1e-5)


class Conv2dSubsampling(nn.Module):
    """Two 3x3 stride-2 convolutions + ReLU, then Linear to ``d_model`` (ESPnet's Conv2dSubsampling).

    Args:
        n_mels: input feature size.
        d_model: output width.
        channels: convolution channels (ESPnet uses ``d_model``).
    """

    factor = 4  # input frames per output frame

    def __init__(self, n_mels: int, d_model: int, channels: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, 2), nn.ReLU(), nn.Conv2d(channels, channels, 3, 2), nn.ReLU()
        )
        self.linear = nn.Linear(channels * self.output_length(n_mels), d_model)

    @staticmethod
    def output_length(length: Any) -> Any:
        """Exact output length of the two valid 3x3 stride-2 convolutions (int or tensor)."""
        return ((length - 1) // 2 - 1) // 2

    def training_flops(self, lengths: Tensor, n_mels: int) -> Tensor:
        """Model FLOPs (forward and backward) on items of ``lengths`` frames of ``n_mels``: each
        convolution's weights act once per output cell (frames x features), the linear's once per
        output frame (the 6 N D rule, ``tformer.flops``)."""
        half = lambda n: (n - 1) // 2  # noqa: E731  (a valid 3x3 stride-2 convolution)
        first, second = self.conv[0], self.conv[2]
        return training_flops((flop_parameters(first), (half(lengths) * half(n_mels)).sum()),
                              (flop_parameters(second), (half(half(lengths)) * half(half(n_mels))).sum()),
                              (flop_parameters(self.linear), half(half(lengths)).sum()))

    def forward(self, x: Tensor) -> Tensor:
        # x: (B, T, F) -> (B, T', d)
        x = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        return self.linear(x.transpose(1, 2).flatten(2))  # (B, T', C * F') -> (B, T', d)


@TOKENIZERS.register("audio_fbank")
class AudioFbankTokenizer(Tokenizer):
    """Speech front-end: log-mel frames -> SpecAugment (training) -> conv x4 -> * sqrt(d) + positions.

    The scaling follows ESPnet's PositionalEncoding (x * sqrt(d) + positions after the Linear).

    Args:
        d_model: output width.
        sample_rate, n_mels, win_ms, hop_ms: features (see ``LogMelFeatures``).
        spec_augment: apply SpecAugment in training.
        freq_mask: widest frequency mask (bands).
        time_mask: widest time mask, frames (int) or a fraction of each utterance (float < 1).
        n_freq_masks, n_time_masks: masks per utterance.
        dropout: dropout after adding positions.
        positions: ``"sinusoidal"`` or ``"learned"``.
        max_len: the most encoder frames (subsampled, 40 ms each by default) of one input: the
            positions learned, or with sinusoidal positions a cap on attention's memory, which grows
            with the square of the length. ``predict`` refuses a longer input before the forward pass.
        conv_channels: subsampling channels; ``None`` means ``d_model`` (ESPnet).
        chunk_seconds: ``predict`` cuts recordings longer than this into chunks at their quietest
            moments and joins the texts (``audio_chunks``); ``None``: it never cuts them.
    """

    reads = (AUDIO,)  # paths, (waveform, sample rate) pairs or waveforms
    can_chunk = True  # long recordings are cut at pauses (prepare_chunks)

    def __init__(
        self,
        d_model: int,
        sample_rate: int = 16000,
        n_mels: int = 80,
        win_ms: float = 25,
        hop_ms: float = 10,
        spec_augment: bool = True,
        freq_mask: int = 27,
        time_mask: int | float = 40,
        n_freq_masks: int = 2,
        n_time_masks: int = 2,
        dropout: float = 0.1,
        positions: str = "sinusoidal",
        max_len: int = 4096,
        conv_channels: int | None = None,
        chunk_seconds: float | None = 20.0,
    ):
        super().__init__()
        self.d_model, self.n_mels = d_model, n_mels
        self.features = LogMelFeatures(sample_rate, n_mels, win_ms, hop_ms)
        self.spec_augment = spec_augment
        self.n_freq_masks, self.n_time_masks = n_freq_masks, n_time_masks
        self.freq_masking = torchaudio.transforms.FrequencyMasking(freq_mask)
        fraction = isinstance(time_mask, float) and time_mask < 1
        # TimeMasking caps a mask at p * length, so a fraction becomes p with an unbounded width.
        self.time_masking = torchaudio.transforms.TimeMasking(2**31 - 1 if fraction else int(time_mask), p=time_mask if fraction else 1.0)
        self.subsampling = Conv2dSubsampling(n_mels, d_model, conv_channels or d_model)
        self.scale = embedding_scale(d_model)
        self.positions = build_positions(positions, d_model, max_len)
        self.dropout = Dropout(dropout)
        self.max_positions = max_len
        self.chunk_seconds = chunk_seconds
        if chunk_seconds is not None:
            self._check_chunk_seconds(chunk_seconds, "source.chunk_seconds")

    def prepare(self, raw: Any) -> Tensor:
        """Path / (waveform, sample_rate) / 1-D waveform at ``sample_rate`` -> (T, n_mels) log-mel.

        A 2-D waveform is (channels, samples) and is averaged to mono.
        """
        name = "audio"
        if isinstance(raw, (str, Path)):
            name = str(raw)
            wave, rate = read_audio(raw)
        elif isinstance(raw, tuple):
            wave, rate = raw
        else:
            wave, rate = raw, self.features.sample_rate
        wave = torch.as_tensor(np.asarray(wave) if not isinstance(wave, Tensor) else wave)
        if wave.dim() == 2:
            wave = wave.mean(dim=0)
        if wave.dim() != 1 or wave.numel() == 0:
            raise ValueError(f"{name}: expected a non-empty 1-D or (channels, samples) waveform, got {tuple(wave.shape)}")
        return self.features(wave, int(rate), name)

    def positions_of(self, item: Tensor) -> int:
        """Encoder frames of one prepared item: its log-mel frames after the x4 subsampling."""
        return int(Conv2dSubsampling.output_length(item.size(0)))

    def _check_chunk_seconds(self, seconds: float, key: str) -> None:
        """``ValueError`` naming ``key`` if chunks of ``seconds`` are not positive or exceed ``max_len``."""
        if not (isinstance(seconds, (int, float)) and seconds > 0):
            raise ValueError(f"{key}={seconds!r}: give a positive number of seconds (or null: no chunks)")
        frames = 1 + round(seconds * self.features.sample_rate) // self.features.hop_length
        positions = Conv2dSubsampling.output_length(frames)
        if positions > self.max_positions:
            fits = self.max_positions * Conv2dSubsampling.factor * self.features.hop_length / self.features.sample_rate
            raise ValueError(f"{key}={seconds:g}: chunks of {seconds:g} s make {positions} encoder frames, more than the "
                             f"{self.max_positions} the model takes (max_len); choose at most {fits:.1f} s")

    def prepare_chunks(self, raw: Any, chunk_seconds: float) -> Iterator[tuple[Tensor, str]]:
        """Log-mel frames of a recording in chunks of at most ``chunk_seconds``, cut at its quietest
        moments; a file is read block by block, so memory does not grow with its length.

        Args:
            raw: a path, a ``(waveform, sample_rate)`` pair or a waveform at ``sample_rate``.
            chunk_seconds: the longest chunk.
        Returns:
            ``(frames (T, n_mels), "NAME at START-END s")`` per chunk, in order. A last chunk
            shorter than the subsampling takes (60 ms) holds no word and is left out.
        """
        self._check_chunk_seconds(chunk_seconds, "chunk_seconds")
        name = str(raw) if isinstance(raw, (str, Path)) else "audio"
        shortest = self.features.min_seconds()
        for index, chunk in enumerate(audio_chunks(raw, chunk_seconds, self.features.sample_rate)):
            seconds = chunk.wave.numel() / chunk.rate
            if index > 0 and seconds < shortest:
                continue
            where = f"{name} at {chunk.start_seconds:.2f}-{chunk.start_seconds + seconds:.2f} s"
            yield self.features(chunk.wave, chunk.rate, name if index == 0 else where), where

    @property
    def position_unit(self) -> str:
        """An encoder frame, with the time it spans (the hop times the subsampling)."""
        ms = 1000 * self.features.hop_length / self.features.sample_rate * Conv2dSubsampling.factor
        return f"encoder frame ({ms:.0f} ms each)"

    def example_inputs(self, batch: int = 2) -> Batch:
        """Made-up clips of noise, 0.8 s, 0.6 s, ... long (never shorter than the subsampling takes)."""
        rate, draws = self.features.sample_rate, torch.Generator().manual_seed(0)
        seconds = [max(0.8 - 0.2 * i, self.features.min_seconds()) for i in range(batch)]
        return self.collate([self.prepare(0.1 * torch.randn(round(s * rate), generator=draws)) for s in seconds])

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """(B,) frame counts -> (B,) lengths after the x4 subsampling."""
        return Conv2dSubsampling.output_length(lengths)

    def front_end_flops(self, lengths: Tensor) -> Tensor:
        """The subsampling's FLOPs; the positions are looked up."""
        return self.subsampling.training_flops(lengths, self.n_mels)

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, n_mels) frames and (B,) lengths -> (B, T', d) vectors and (B, T') padding mask."""
        if self.training and self.spec_augment:
            values = self._augment(values, lengths)
        x = self.subsampling(values)  # (B, T', d)
        x = self.dropout(self.positions(x * self.scale))
        lengths = self.output_lengths(lengths.to(values.device))
        return x, lengths_to_pad_mask(lengths, x.size(1))

    def _augment(self, values: Tensor, lengths: Tensor) -> Tensor:
        # SpecAugment per utterance, within its own length (masks set to 0 = the normalized mean).
        out = values.clone()
        for i, length in enumerate(lengths.tolist()):
            spec = out[i, :length].T  # (n_mels, T_i)
            for _ in range(self.n_freq_masks):
                spec = self.freq_masking(spec)
            for _ in range(self.n_time_masks):
                spec = self.time_masking(spec)
            out[i, :length] = spec.T
        return out
