"""Text to speech with the shared encoder-decoder: a Transformer TTS (Li et al. 2019, "Neural
Speech Synthesis with Transformer Network") writing log-mel frames, turned into sound by the mel
field's Griffin-Lim."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import soundfile
import torch
from torch import Tensor, nn

from tformer.core import EncoderDecoder
from tformer.flops import training_flops
from tformer.kinds import TEXT
from tformer.registry import TASKS
from tformer.tokenizers import Batch, Tokenizer, lengths_to_pad_mask
from tformer.tokenizers.mel import MelTokenizer

from .base import Task
from .long_inputs import AUTO
from .objectives import IGNORE, BinaryCrossEntropy, Objective, Regression

__all__ = ["TextToSpeechTask", "PostNet", "stop_targets"]


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
        self.dropout = nn.Dropout(dropout)

    def forward(self, frames: Tensor) -> Tensor:
        # frames: (B, T, n_mels), zero past each item's end -> residual (B, T, n_mels)
        x = frames.transpose(1, 2)  # (B, n_mels, T)
        for index, layer in enumerate(self.layers):
            x = layer(x)
            x = self.dropout(torch.tanh(x) if index < len(self.layers) - 1 else x)
        return x.transpose(1, 2)


def stop_targets(steps: Tensor, n_steps: int) -> Tensor:
    """(B,) decoder steps per item -> (B, n_steps) stop targets: 0 before the last step, 1 at it,
    ``IGNORE`` past it."""
    position = torch.arange(n_steps, device=steps.device)[None, :]
    last = (steps - 1)[:, None]
    targets = (position == last).float()
    return targets.masked_fill(position > last, IGNORE)


@TASKS.register("tts")
class TextToSpeechTask(Task):
    """Text -> log-mel frames -> waveform: text encoder, autoregressive frame decoder reading its
    previous frame through the mel field's pre-net, a linear frame head, a post-net and a stop head.

    Args:
        fields: ``source`` (a text tokenizer) and ``target`` (``MelTokenizer``).
        core: the shared ``EncoderDecoder``.
        objectives: by default L1 of the frames before and after the post-net, and the stop
            token's binary cross entropy (positive weight 8); a ``guided_attention`` objective
            reads the decoder's cross-attention (gathered only then).
        postnet_channels, postnet_kernel, postnet_layers, postnet_dropout: see ``PostNet``.
        stop_threshold: decoding stops after the step whose stop probability exceeds it.
        max_seconds: decoding stops there without a stop token.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    field_names = ("source", "target")
    input_field = "source"
    token_fields = ("source", "target")  # text tokens and frames
    outputs = ("frames", "frames_postnet", "stop_logits", "stop_targets", "cross_attention", "cross_attention_mask")

    def __init__(self, fields: Mapping[str, Tokenizer], core: EncoderDecoder, objectives: Mapping[str, Objective] | None = None,
                 postnet_channels: int = 256, postnet_kernel: int = 5, postnet_layers: int = 5,
                 postnet_dropout: float = 0.5, stop_threshold: float = 0.5, max_seconds: float = 10.0,
                 optimizer=None, scheduler=None, predict_batch_size: int = 16):
        target, source = fields.get("target"), fields.get("source")
        if not isinstance(target, MelTokenizer):
            raise ValueError(f"{type(self).__name__} writes speech: its target must be the mel tokenizer (target=mel), "
                             f"got {type(target).__name__}")
        if source is not None and source.reads is not None and TEXT not in source.reads:
            raise ValueError(f"{type(self).__name__} reads text: its source must be a text tokenizer (source=text_char "
                             f"or text_bpe), got {type(source).__name__}")
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        self.frame_head = nn.Linear(core.d_model, target.reduction * target.n_mels)
        self.stop_head = nn.Linear(core.d_model, 1)
        self.postnet = PostNet(target.n_mels, postnet_channels, postnet_kernel, postnet_layers, postnet_dropout)
        # The decoder's attention weights are gathered only for an objective that reads them.
        self.keeps_attention = any("cross_attention" in objective.reads for objective in self.objectives.values())
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "optimizer", "scheduler"])

    def default_objectives(self) -> dict[str, Objective]:
        return {"frames": Regression(output="frames", norm="l1"), "frames_postnet": Regression(output="frames_postnet", norm="l1"),
                "stop": BinaryCrossEntropy(pos_weight=8.0)}

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

    def heads(self, hidden: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, S, d) decoder states, (B,) real frames -> frames (B, S * r, n_mels) before and
        after the post-net (which sees zeros past each item's end), and stop logits (B, S)."""
        B, S, _ = hidden.shape
        frames = self.frame_head(hidden).view(B, S * self.target.reduction, self.target.n_mels)
        padding = lengths_to_pad_mask(frame_lengths, frames.size(1))[..., None]  # (B, S * r, 1)
        refined = frames + self.postnet(frames.masked_fill(padding, 0.0))
        return frames, refined, self.stop_head(hidden).squeeze(-1)

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        memory, src_mask = self.encode(batch["source"])
        target = batch["target"]
        lengths = target.lengths.to(target.values.device)
        y, tgt_mask = self.target(target.values, lengths)  # (B, S, d): go frame, then each step's last frame
        if self.keeps_attention:  # right-padded targets: the causal mask suffices
            hidden, weights = self.core.decoder(y, memory, src_mask, need_weights=True)
        else:
            pad_mask = tgt_mask if self.core.decoder.uses_pad_mask else None  # a packing decoder reads it
            hidden, weights = self.core.decoder(y, memory, src_mask, pad_mask), None
        frames, refined, stop_logits = self.heads(hidden, lengths)
        T = target.values.size(1)
        outputs = {"frames": frames[:, :T], "frames_postnet": refined[:, :T], "stop_logits": stop_logits,
                   "stop_targets": stop_targets(self.target.steps(lengths), hidden.size(1))}
        if weights is not None:
            outputs["cross_attention"] = torch.stack([cross for _, cross in weights], 1)  # (B, L, H, S, S_text)
            outputs["cross_attention_mask"] = ~tgt_mask[:, :, None] & ~src_mask[:, None, :]  # real (step, text) pairs
        return outputs

    def loss_weight(self, batch: Mapping[str, Batch]) -> int:
        return int(batch["target"].lengths.sum())  # frames

    def flops(self, batch: Mapping[str, Batch]) -> Tensor:
        """Text positions: the encoder; decoder steps: the pre-net, decoder, frame and stop heads;
        frames: the post-net (each convolution weight acts once per frame)."""
        source, frames = batch["source"].lengths, batch["target"].lengths
        decoder = self.count_parameters(self.core.decoder, self.frame_head, self.stop_head)
        return (self.source.front_end_flops(source) + self.target.front_end_flops(frames)
                + training_flops((self.count_parameters(self.core.encoder), self.source.output_lengths(source).sum()),
                                 (decoder, self.target.output_lengths(frames).sum()),
                                 (self.count_parameters(self.postnet), frames.sum())))

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

    # -- synthesis ---------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, memory: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Decode frames step by step with the decoder's KV cache until every item's stop token
        (or ``max_seconds``).

        Returns:
            frames (B, S * r, n_mels) before and after the post-net, stop logits (B, S) and (B,)
            frames per item (r times the step that stopped it).
        """
        mel, r, B = self.target, self.target.reduction, memory.size(0)
        max_steps = max(1, math.ceil(self.hparams.max_seconds * mel.sample_rate / mel.spectrogram.hop_length / r))
        cache = self.core.decoder.init_cache(memory, src_mask)
        previous = memory.new_zeros(B, 1, mel.n_mels)  # the go frame
        steps = torch.full((B,), max_steps, dtype=torch.long, device=memory.device)
        hidden = []
        for step in range(max_steps):
            h = self.core.decoder.step(mel.embed_step(previous, step), cache)  # (B, 1, d)
            hidden.append(h)
            previous = self.frame_head(h)[..., -mel.n_mels :]  # the step's last frame (B, 1, n_mels)
            stopped = torch.sigmoid(self.stop_head(h)[:, 0, 0]) > self.hparams.stop_threshold
            steps = torch.where(stopped & (steps == max_steps), step + 1, steps)
            if bool((steps <= step + 1).all()):
                break
        frames, refined, stop_logits = self.heads(torch.cat(hidden, 1), steps * r)
        return frames, refined, stop_logits, steps * r

    def infer(self, batch: Mapping[str, Batch]) -> list[Tensor]:
        """Waveforms (N,) at ``sample_rate``, on the CPU, one per text."""
        memory, src_mask = self.encode(batch["source"])
        _, refined, _, lengths = self.generate(memory, src_mask)
        return [self.target.to_waveform(refined[i, :n]) for i, n in enumerate(lengths.tolist())]

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
