"""What every text-to-speech task shares: a text field in, the mel field out, a post-net, the
mel L1 metric, and ``predict`` returning waveforms that ``tformer-predict`` writes as WAV files.
``tts`` (autoregressive, ``tasks/tts.py``) and ``tts_parallel`` (durations, ``tasks/tts_parallel.py``)
build on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import soundfile
import torch
from torch import Tensor, nn

from tformer.core.dropout import Dropout
from tformer.kinds import TEXT
from tformer.tokenizers import Batch, Tokenizer, lengths_to_pad_mask
from tformer.tokenizers.mel import MelTokenizer

from .base import Task
from .long_inputs import AUTO

__all__ = ["SpeechSynthesisTask", "PostNet"]


class PostNet(nn.Module):
    """Convolutions over the whole predicted spectrogram that add a residual to it (Shen et al.
    2018): ``n_layers`` Conv1d + batch norm, tanh after all but the last, dropout.

    Args:
        n_mels: frame width.
        channels: hidden channels (512 in the papers).
        kernel_size: odd kernel width (5).
        n_layers: convolutions (5).
        dropout: dropout after each convolution (0.5).
    """

    def __init__(self, n_mels: int, channels: int = 256, kernel_size: int = 5, n_layers: int = 5, dropout: float = 0.5):
        super().__init__()
        if kernel_size % 2 == 0 or n_layers < 1:
            raise ValueError(f"task.postnet_kernel must be odd and task.postnet_layers >= 1, got {kernel_size}, {n_layers}")
        widths = [n_mels] + [channels] * (n_layers - 1) + [n_mels]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv1d(a, b, kernel_size, padding=kernel_size // 2), nn.BatchNorm1d(b))
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.dropout = Dropout(dropout)

    def forward(self, frames: Tensor) -> Tensor:
        # frames: (B, T, n_mels), zero past each item's end -> residual (B, T, n_mels)
        x = frames.transpose(1, 2)  # (B, n_mels, T)
        for index, layer in enumerate(self.layers):
            x = layer(x)
            x = self.dropout(torch.tanh(x) if index < len(self.layers) - 1 else x)
        return x.transpose(1, 2)


class SpeechSynthesisTask(Task):
    """Base of the text-to-speech tasks: checks that the source is text and the target the mel
    field; a subclass makes ``forward`` (outputs ``frames_postnet`` among them) and ``infer``
    (waveforms).

    Args: as ``Task``.
    """

    field_names = ("source", "target")
    input_field = "source"
    token_fields = ("source", "target")  # text tokens and frames

    def __init__(self, fields: Mapping[str, Tokenizer], core: nn.Module, objectives=None, optimizer=None,
                 scheduler=None, predict_batch_size: int = 16):
        target, source = fields.get("target"), fields.get("source")
        if not isinstance(target, MelTokenizer):
            raise ValueError(f"{type(self).__name__} writes speech: its target must be the mel tokenizer (target=mel), "
                             f"got {type(target).__name__}")
        if source is not None and source.reads is not None and TEXT not in source.reads:
            raise ValueError(f"{type(self).__name__} reads text: its source must be a text tokenizer (source=text_char "
                             f"or text_bpe), got {type(source).__name__}")
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)

    @property
    def source(self) -> Tokenizer:
        return self.fields["source"]

    @property
    def target(self) -> MelTokenizer:
        return self.fields["target"]

    @property
    def sample_rate(self) -> int:
        """The sample rate of the waveforms ``predict`` returns."""
        return self.target.sample_rate

    def encode(self, source: Batch) -> tuple[Tensor, Tensor]:
        """Collated text -> encoder memory (B, S, d) and its padding mask (B, S)."""
        x, src_mask = self.source(source.values, source.lengths)
        return self.core.encode(x, src_mask), src_mask

    def loss_weight(self, batch: Mapping[str, Batch]) -> int:
        return int(batch["target"].lengths.sum())  # frames

    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        target = batch["target"]
        keep = lengths_to_pad_mask(target.lengths.to(target.values.device), target.values.size(1)).logical_not()
        error = (outputs["frames_postnet"].float() - target.values.float()).abs()[keep].mean()
        self.log(f"{stage}/mel_l1", error, prog_bar=True, batch_size=self.loss_weight(batch))

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """The mel L1 of writing, for every test frame, the mean frame of (up to 200) training clips."""
        train, test = (split.column(data.column_of("target")) for split in (data.train, data.test))
        sample = [train[i] for i in range(0, len(train), max(1, len(train) // 200))]
        mean = torch.cat([self.target.prepare(item) for item in sample]).mean(0)  # (n_mels,)
        errors = torch.cat([(self.target.prepare(item) - mean).abs().flatten() for item in test])
        return "test/mel_l1", float(errors.mean()), "every frame the mean training frame"

    @torch.no_grad()
    def predict(self, inputs: Sequence[str], chunk_seconds: float | str | None = AUTO) -> list[Tensor]:
        """Texts -> waveforms (1-D float tensors at ``self.sample_rate``), in order. Texts are
        never cut into chunks (``chunk_seconds`` other than "auto" or None is an error, as ``Task.predict``).

        Raises:
            ValueError: a text holds characters outside the source vocabulary, naming them.
        """
        if not isinstance(inputs, (str, bytes)):
            for text in inputs:
                unknown = self.source.outside_vocabulary(text)
                if unknown:
                    raise ValueError(_unknown_message(text, unknown, self.source.known_characters))
        return super().predict(inputs, chunk_seconds)

    def written_prediction(self, prediction: Tensor, index: int, output: Path) -> str:
        """Write waveform number ``index`` as ``<output stem>_wav/<index>.wav`` (16-bit PCM) beside
        the JSON-lines ``output``; its path is what the line holds."""
        path = output.parent / f"{output.stem}_wav" / f"{index:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), prediction.clamp(-1, 1).numpy(), self.sample_rate, subtype="PCM_16")
        return str(path)


def _unknown_message(text: str, unknown: list[str], known: str) -> str:
    shown = ", ".join(repr(c) for c in dict.fromkeys(unknown))
    reads = f"only the characters {known!r}" if known else "other characters"
    return (f"the text {text[:60]!r} has characters outside the text vocabulary: {shown}; the model reads "
            f"{reads} (write numbers and symbols out in words, as its training texts do)")
