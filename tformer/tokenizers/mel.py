"""Mel frames as an output modality (text-to-speech): log-mel targets, a decoder pre-net, and
frames back to a waveform with Griffin-Lim (Li et al. 2019, "Neural Speech Synthesis with
Transformer Network"; Shen et al. 2018 for the pre-net)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

from ..core.dropout import Dropout, dropout
from ..core.positions import SinusoidalPositions
from ..kinds import AUDIO
from ..registry import TOKENIZERS
from .audio import read_audio
from .base import Batch, Tokenizer, lengths_to_pad_mask

__all__ = ["MelSpectrogram", "PreNet", "MelTokenizer"]

FLOOR = 1e-5  # magnitudes below it (digital silence) are taken as it before the log


class MelSpectrogram:
    """Waveform <-> globally normalized log-mel magnitudes; no learnable state.

    Unlike the recognizer's features (``LogMelFeatures``, normalized per utterance), the scale
    here is fixed, so a frame keeps its loudness and can be turned back into sound.

    Args:
        sample_rate: rate of the frames (inputs are resampled to it).
        n_mels: mel bands.
        n_fft, win_length, hop_length: the STFT, in samples (1024, 800, 200: 50 ms windows every 12.5 ms at 16 kHz).
        log_mean, log_std: the fixed normalization, (log mel - mean) / std; the defaults are those
            of 200 espeak_digits training clips.
        griffin_lim_iters: Griffin-Lim iterations of ``to_waveform``.
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 80, n_fft: int = 1024, win_length: int = 800,
                 hop_length: int = 200, log_mean: float = -2.4, log_std: float = 4.5, griffin_lim_iters: int = 32):
        self.sample_rate, self.n_mels, self.n_fft = sample_rate, n_mels, n_fft
        self.win_length, self.hop_length, self.griffin_lim_iters = win_length, hop_length, griffin_lim_iters
        self.log_mean, self.log_std = log_mean, log_std
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=n_fft, win_length=win_length,
                                                        hop_length=hop_length, n_mels=n_mels, power=1.0)
        # The minimum-norm least-squares inverse of the filter bank, as torchaudio's InverseMelScale
        # solves it per call (torch.linalg.lstsq); computed once here.
        self.inverse_filters = torch.linalg.pinv(self.mel.mel_scale.fb.T)  # (n_fft // 2 + 1, n_mels)
        self.window = torch.hann_window(win_length)

    def __call__(self, wave: Tensor, rate: int) -> Tensor:
        """(N,) waveform at ``rate`` -> (T, n_mels) normalized log-mel, T = 1 + N // hop."""
        wave = wave.float()
        if rate != self.sample_rate:
            wave = torchaudio.functional.resample(wave, rate, self.sample_rate)
        log_mel = torch.log(self.mel(wave).clamp(min=FLOOR)).T  # (T, n_mels)
        return (log_mel - self.log_mean) / self.log_std

    def to_waveform(self, frames: Tensor) -> Tensor:
        """(T, n_mels) normalized log-mel -> ((T - 1) * hop,) waveform at ``sample_rate`` on the CPU (Griffin-Lim), which gives T frames again."""
        length = (frames.size(0) - 1) * self.hop_length
        frames = frames.detach().float().cpu()
        short = self.n_fft // (2 * self.hop_length) + 2 - frames.size(0)  # the STFT's padding needs a few frames
        if short > 0:
            frames = F.pad(frames, (0, 0, 0, short), value=(math.log(FLOOR) - self.log_mean) / self.log_std)
        magnitudes = torch.exp(frames * self.log_std + self.log_mean).T  # (n_mels, T)
        linear = (self.inverse_filters @ magnitudes).clamp(min=0)  # (n_fft // 2 + 1, T)
        # rand_init=False: the same frames always give the same waveform (checkpoints predict alike).
        wave = torchaudio.functional.griffinlim(
            linear, self.window, self.n_fft, self.hop_length, self.win_length, power=1.0, n_iter=self.griffin_lim_iters,
            momentum=0.99, length=(frames.size(0) - 1) * self.hop_length, rand_init=False)
        return wave[:length]


class PreNet(nn.Module):
    """Two Linear + ReLU + dropout layers on the previous frame: a bottleneck the decoder must
    pass through (Shen et al. 2018); dropout 0.5, also at inference unless told otherwise.

    Args:
        n_mels: frame width.
        hidden: layer width (256 in the papers).
        dropout: dropout after each layer.
        dropout_at_inference: keep the dropout in eval mode too (Tacotron 2, ESPnet).
    """

    def __init__(self, n_mels: int, hidden: int = 256, dropout: float = 0.5, dropout_at_inference: bool = True):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(n_mels, hidden), nn.Linear(hidden, hidden)])
        self.dropout, self.dropout_at_inference = dropout, dropout_at_inference

    def forward(self, frames: Tensor) -> Tensor:
        # frames: (B, T, n_mels) -> (B, T, hidden)
        x = frames
        for layer in self.layers:
            x = dropout(F.relu(layer(x)), self.dropout, training=self.training or self.dropout_at_inference)
        return x


@TOKENIZERS.register("mel")
class MelTokenizer(Tokenizer):
    """Speech as log-mel frames on the output side: audio -> (T, n_mels) targets; the previous
    frames -> decoder inputs (pre-net, projection, alpha-scaled positions); frames -> waveform.

    With a reduction factor ``r`` the decoder writes ``r`` frames a step (Wang et al. 2017) and
    reads the last frame of the step before; the first step reads a zero "go" frame.

    Args:
        d_model: decoder width.
        sample_rate, n_mels, n_fft, win_length, hop_length, log_mean, log_std, griffin_lim_iters:
            see ``MelSpectrogram``.
        reduction: frames per decoder step (r).
        prenet_dim: pre-net width; 0 for none, where no decoder reads the frames back (a
            non-autoregressive task only takes them as targets and adds ``add_positions``).
        prenet_dropout: pre-net dropout (the papers' 0.5).
        prenet_dropout_at_inference: keep it when predicting.
        dropout: dropout after adding the positions.
    """

    reads = (AUDIO,)  # paths, (waveform, sample rate) pairs or waveforms
    position_unit = "decoder step"

    def __init__(self, d_model: int, sample_rate: int = 16000, n_mels: int = 80, n_fft: int = 1024,
                 win_length: int = 800, hop_length: int = 200, log_mean: float = -2.4, log_std: float = 4.5,
                 griffin_lim_iters: int = 32, reduction: int = 3, prenet_dim: int = 256,
                 prenet_dropout: float = 0.5, prenet_dropout_at_inference: bool = True, dropout: float = 0.1):
        super().__init__()
        if reduction < 1:
            raise ValueError(f"target.reduction (frames per decoder step) must be at least 1, got {reduction}")
        self.d_model, self.n_mels, self.reduction = d_model, n_mels, reduction
        self.spectrogram = MelSpectrogram(sample_rate, n_mels, n_fft, win_length, hop_length, log_mean, log_std,
                                          griffin_lim_iters)
        if prenet_dim < 0:
            raise ValueError(f"target.prenet_dim must be a width >= 0 (0: no pre-net), got {prenet_dim}")
        self.prenet = PreNet(n_mels, prenet_dim, prenet_dropout, prenet_dropout_at_inference) if prenet_dim else None
        self.projection = nn.Linear(prenet_dim, d_model) if prenet_dim else None
        self.alpha = nn.Parameter(torch.ones(1))  # the trainable scale of the positions (Li et al. 2019)
        self.positions = SinusoidalPositions(d_model)
        self.dropout = Dropout(dropout)

    @property
    def sample_rate(self) -> int:
        return self.spectrogram.sample_rate

    def prepare(self, raw: Any) -> Tensor:
        """Path / (waveform, sample_rate) / 1-D waveform at ``sample_rate`` -> (T, n_mels) frames."""
        name = str(raw) if isinstance(raw, (str, Path)) else "audio"
        if isinstance(raw, (str, Path)):
            wave, rate = read_audio(raw)
        elif isinstance(raw, tuple):
            wave, rate = raw
        else:
            wave, rate = raw, self.sample_rate
        wave = torch.as_tensor(np.asarray(wave) if not isinstance(wave, Tensor) else wave)
        wave = wave.mean(dim=0) if wave.dim() == 2 else wave
        if wave.dim() != 1 or wave.numel() == 0:
            raise ValueError(f"{name}: expected a non-empty 1-D or (channels, samples) waveform, got {tuple(wave.shape)}")
        frames = self.spectrogram(wave, int(rate))
        if not torch.isfinite(frames).all():
            raise ValueError(f"{name}: the audio gives non-finite frames (NaN or infinite samples; expected [-1, 1])")
        return frames

    def steps(self, lengths: Tensor) -> Tensor:
        """(B,) frame counts -> (B,) decoder steps, ceil(frames / r)."""
        return (lengths + self.reduction - 1) // self.reduction

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """(B,) frame counts -> (B,) decoder positions: the steps."""
        return self.steps(lengths)

    def decoder_inputs(self, values: Tensor) -> Tensor:
        """(B, T, n_mels) frames -> (B, S, n_mels), S = ceil(T / r): a zero go frame, then the
        last frame of each step but the last (the frames padded with zeros to whole steps)."""
        last = self.stack_steps(values)[..., -self.n_mels :]  # (B, S, n_mels)
        return torch.cat([torch.zeros_like(last[:, :1]), last[:, :-1]], dim=1)

    def stack_steps(self, values: Tensor) -> Tensor:
        """(B, T, n_mels) frames -> (B, S, r * n_mels), S = ceil(T / r): each decoder step's r
        frames side by side, the last step padded with zeros."""
        values = F.pad(values, (0, 0, 0, -values.size(1) % self.reduction))  # (B, S * r, n_mels)
        return values.reshape(values.size(0), -1, self.reduction * values.size(2))

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: (B, T, n_mels) target frames and (B,) lengths -> (B, S, d) decoder
        inputs, S = ceil(T / r), and their (B, S) padding mask."""
        x = self.embed_step(self.decoder_inputs(values), 0)  # (B, S, d)
        return x, lengths_to_pad_mask(self.steps(lengths.to(values.device)), x.size(1))

    def embed_step(self, frames: Tensor, offset: int) -> Tensor:
        """(B, t, n_mels) previous frames at decoder steps ``offset``.. -> (B, t, d)."""
        if self.prenet is None:
            raise ValueError("this mel field has no pre-net (target.prenet_dim=0): an autoregressive decoder "
                             "(task=tts) reads its frames back through one; set target.prenet_dim, e.g. 256")
        return self.add_positions(self.projection(self.prenet(frames)), offset)

    def add_positions(self, x: Tensor, offset: int = 0) -> Tensor:
        """(B, t, d) -> the same plus the alpha-scaled sinusoids of positions ``offset``.., then dropout."""
        table = self.positions(torch.zeros_like(x), offset)  # (B, t, d) the sinusoids alone
        return self.dropout(x + self.alpha * table)

    def to_waveform(self, frames: Tensor) -> Tensor:
        """(T, n_mels) frames -> ((T - 1) * hop_length,) waveform at ``sample_rate``."""
        return self.spectrogram.to_waveform(frames)

    def size(self, item: Tensor) -> int:
        """Cost of one item for token-budget batching: its frames."""
        return int(item.size(0))

    def example_inputs(self, batch: int = 2) -> Batch:
        """Made-up clips of noise, 0.8 s, 0.6 s, ... long."""
        draws = torch.Generator().manual_seed(0)
        seconds = [max(0.8 - 0.2 * i, 0.1) for i in range(batch)]
        return self.collate([self.prepare(0.1 * torch.randn(round(s * self.sample_rate), generator=draws)) for s in seconds])

    def batch_item(self, values: Tensor, lengths: Tensor, index: int) -> Tensor:
        """Item ``index`` of a collated batch, cut at its frames."""
        return values[index, : int(lengths[index])]

    def position_labels(self, prepared: Tensor, n_positions: int) -> list[str]:
        """Each decoder step by the time its frames start ("0.000 s")."""
        seconds = self.reduction * self.spectrogram.hop_length / self.sample_rate
        return [f"{i * seconds:.3f} s" for i in range(n_positions)]
