"""Non-autoregressive text to speech on the shared encoder-decoder (FastSpeech, Ren et al. 2019,
with the alignment learned inside the model as in NeMo's FastPitch, Badlani et al. 2022): each
character's encoder state is repeated for its frames and the decoder writes every frame at once.
No frame reads the frames written before it, so one wrong frame cannot lead the next astray, and
no character is skipped or said twice."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from tformer.core import EncoderDecoder
from tformer.core.dropout import Dropout
from tformer.flops import training_flops
from tformer.registry import TASKS
from tformer.tokenizers import Batch, Tokenizer, lengths_to_pad_mask

from .alignment import AlignmentEncoder, Binarization, DurationLoss, ForwardSum, hard_path, monotonic_alignment
from .objectives import Objective, Regression
from .speech_synthesis import PostNet, SpeechSynthesisTask

__all__ = ["ParallelTextToSpeechTask", "DurationPredictor", "regulate_length"]


class DurationPredictor(nn.Module):
    """Log frames per character from the encoder memory (FastSpeech's): two convolutions, each
    followed by ReLU, layer norm and dropout, then a linear layer.

    Args:
        d_model: memory width.
        channels: convolution channels (256).
        kernel_size: odd kernel width (3).
        dropout: after each convolution (0.1).
    """

    def __init__(self, d_model: int, channels: int = 256, kernel_size: int = 3, dropout: float = 0.1):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"task.duration_kernel must be odd, got {kernel_size}")
        self.convs = nn.ModuleList(nn.Conv1d(width, channels, kernel_size, padding=kernel_size // 2)
                                   for width in (d_model, channels))
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(2))
        self.dropout = Dropout(dropout)
        self.out = nn.Linear(channels, 1)

    def forward(self, memory: Tensor, pad_mask: Tensor) -> Tensor:
        # memory: (B, N, d), pad_mask: (B, N) -> log durations (B, N), 0 at the padding
        x = memory.masked_fill(pad_mask[..., None], 0.0)
        for conv, norm in zip(self.convs, self.norms):
            x = self.dropout(norm(torch.relu(conv(x.transpose(1, 2)).transpose(1, 2))))
        return self.out(x).squeeze(-1).masked_fill(pad_mask, 0.0)


def regulate_length(memory: Tensor, durations: Tensor, n_frames: int) -> tuple[Tensor, Tensor]:
    """FastSpeech's length regulator: (B, N, d) states and (B, N) frames per character -> (B,
    n_frames, d), each state repeated for its frames, zeros past the item's frames, and that (B,
    n_frames) padding mask."""
    path = hard_path(durations, n_frames)  # (B, T) the character of each frame, -1 past the end
    expanded = memory.gather(1, path.clamp(min=0)[..., None].expand(-1, -1, memory.size(-1)))
    padding = path < 0
    return expanded.masked_fill(padding[..., None], 0.0), padding


@TASKS.register("tts_parallel")
class ParallelTextToSpeechTask(SpeechSynthesisTask):
    """Text -> log-mel frames -> waveform, every frame at once: text encoder; an aligner whose
    hard alignment (monotonic alignment search) gives each character its decoder steps of r
    frames in training; a duration predictor that gives them when predicting; the decoder, run
    without its causal mask over the characters' states repeated for their steps (cross-attending
    to the text too); a linear head writing r frames a step, and a post-net.

    Args:
        fields: ``source`` (a text tokenizer) and ``target`` (``MelTokenizer``; its reduction r
            is the frames each decoder position writes, as in ``tts``; no pre-net is used:
            ``target.prenet_dim=0``).
        core: the shared ``EncoderDecoder``.
        objectives: by default L1 of the frames before and after the post-net, the aligner's
            forward-sum and binarization losses and the duration predictor's squared error.
        aligner_channels, aligner_temperature: see ``AlignmentEncoder``.
        duration_channels, duration_kernel, duration_dropout: see ``DurationPredictor``.
        postnet_channels, postnet_kernel, postnet_layers, postnet_dropout: see ``PostNet``.
        speaking_rate: predicted durations are divided by it (1.2: a fifth faster).
        max_seconds: synthesized speech is cut there.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    outputs = ("frames", "frames_postnet", "alignment", "durations", "log_durations", "text_lengths", "step_lengths")

    def __init__(self, fields: Mapping[str, Tokenizer], core: EncoderDecoder, objectives: Mapping[str, Objective] | None = None,
                 aligner_channels: int = 80, aligner_temperature: float = 0.0005, duration_channels: int = 256,
                 duration_kernel: int = 3, duration_dropout: float = 0.1, postnet_channels: int = 256,
                 postnet_kernel: int = 5, postnet_layers: int = 5, postnet_dropout: float = 0.5,
                 speaking_rate: float = 1.0, max_seconds: float = 10.0, optimizer=None, scheduler=None,
                 predict_batch_size: int = 16):
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        if speaking_rate <= 0 or max_seconds <= 0:
            raise ValueError(f"task.speaking_rate and task.max_seconds must be > 0, got {speaking_rate}, {max_seconds}")
        n_mels, r = self.target.n_mels, self.target.reduction
        self.aligner = AlignmentEncoder(core.d_model, r * n_mels, aligner_channels, aligner_temperature)
        self.duration_predictor = DurationPredictor(core.d_model, duration_channels, duration_kernel, duration_dropout)
        self.frame_head = nn.Linear(core.d_model, r * n_mels)
        self.postnet = PostNet(n_mels, postnet_channels, postnet_kernel, postnet_layers, postnet_dropout)
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "optimizer", "scheduler"])

    def default_objectives(self) -> dict[str, Objective]:
        return {"frames": Regression(output="frames"), "frames_postnet": Regression(output="frames_postnet"),
                "forward_sum": ForwardSum(), "binarization": Binarization(start=500), "durations": DurationLoss(0.1)}

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        source, target = batch["source"], batch["target"]
        x, src_mask = self.source(source.values, source.lengths)  # (B, N, d)
        memory = self.core.encode(x, src_mask)
        frame_lengths = target.lengths.to(memory.device)
        text_lengths, step_lengths = (~src_mask).sum(1), self.target.steps(frame_lengths)
        steps = self.target.stack_steps(target.values)  # (B, S, r * n_mels)
        alignment = self.aligner(x, src_mask, steps, step_lengths)  # (B, S, N) log-probs
        durations = monotonic_alignment(alignment.detach(), text_lengths, step_lengths)  # (B, N) steps
        frames, refined = self.decode(memory, src_mask, durations, frame_lengths)
        T = target.values.size(1)
        return {"frames": frames[:, :T], "frames_postnet": refined[:, :T], "alignment": alignment,
                "durations": durations, "log_durations": self.duration_predictor(memory, src_mask),
                "text_lengths": text_lengths, "step_lengths": step_lengths}

    def decode(self, memory: Tensor, src_mask: Tensor, durations: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Memory (B, N, d), decoder steps per character (B, N) and (B,) frames -> frames (B, S *
        r, n_mels) before and after the post-net, zeros past each item's frames."""
        expanded, step_mask = regulate_length(memory, durations, int(durations.sum(1).max()))  # (B, S, d)
        hidden = self.core.decoder(self.target.add_positions(expanded), memory, src_mask, step_mask, causal=False)
        B, S, _ = hidden.shape
        frames = self.frame_head(hidden).view(B, S * self.target.reduction, self.target.n_mels)
        padding = lengths_to_pad_mask(frame_lengths, frames.size(1))[..., None]  # (B, S * r, 1)
        frames = frames.masked_fill(padding, 0.0)
        return frames, (frames + self.postnet(frames)).masked_fill(padding, 0.0)

    def predicted_durations(self, memory: Tensor, src_mask: Tensor) -> Tensor:
        """(B, N) decoder steps per character from the duration predictor, at least 1 for each
        real one, the whole cut at ``max_seconds``."""
        log_durations = self.duration_predictor(memory, src_mask)
        durations = (log_durations.exp() / self.hparams.speaking_rate).round().clamp(min=1).long()
        durations = durations.masked_fill(src_mask, 0)
        mel = self.target
        limit = int(self.hparams.max_seconds * mel.sample_rate / mel.spectrogram.hop_length / mel.reduction)
        ends = durations.cumsum(1).clamp(max=limit)  # cut at the limit
        return torch.diff(ends, dim=1, prepend=ends.new_zeros(ends.size(0), 1))

    def flops(self, batch: Mapping[str, Batch]) -> Tensor:
        """Characters: the encoder, the duration predictor and the aligner's keys; steps of r
        frames: the decoder, frame head and the aligner's queries; frames: the post-net (each
        weight acts once per position)."""
        source, frames = batch["source"].lengths, batch["target"].lengths
        text = self.count_parameters(self.core.encoder, self.duration_predictor, self.aligner.keys)
        steps = self.count_parameters(self.core.decoder, self.frame_head, self.aligner.queries)
        return (self.source.front_end_flops(source) + self.target.front_end_flops(frames)
                + training_flops((text, self.source.output_lengths(source).sum()),
                                 (steps, self.target.steps(frames).sum()), (self.count_parameters(self.postnet), frames.sum())))

    @torch.no_grad()
    def infer(self, batch: Mapping[str, Batch]) -> list[Tensor]:
        """Waveforms (N,) at ``sample_rate``, on the CPU, one per text."""
        memory, src_mask = self.encode(batch["source"])
        durations = self.predicted_durations(memory, src_mask)
        lengths = durations.sum(1) * self.target.reduction  # frames
        _, refined = self.decode(memory, src_mask, durations, lengths)
        return [self.target.to_waveform(refined[i, :n]) for i, n in enumerate(lengths.tolist())]
