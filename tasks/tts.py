"""Text to speech with the shared encoder-decoder: a Transformer TTS (Li et al. 2019, "Neural
Speech Synthesis with Transformer Network") writing log-mel frames, turned into sound by the mel
field's Griffin-Lim."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from tformer.core import EncoderDecoder
from tformer.flops import training_flops
from tformer.registry import TASKS
from tformer.tokenizers import Batch, Tokenizer, lengths_to_pad_mask

from .objectives import IGNORE, BinaryCrossEntropy, GuidedAttention, Objective, Regression
from .speech_synthesis import PostNet, SpeechSynthesisTask

__all__ = ["TextToSpeechTask", "PostNet", "stop_targets"]


def stop_targets(steps: Tensor, n_steps: int) -> Tensor:
    """(B,) decoder steps per item -> (B, n_steps) stop targets: 0 before the last step, 1 at it,
    ``IGNORE`` past it."""
    position = torch.arange(n_steps, device=steps.device)[None, :]
    last = (steps - 1)[:, None]
    targets = (position == last).float()
    return targets.masked_fill(position > last, IGNORE)


@TASKS.register("tts")
class TextToSpeechTask(SpeechSynthesisTask):
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
        attention_window: ``[back, ahead]`` text positions: while synthesizing, the heads that
            ``guided_attention`` trains attend only from ``back`` positions before the text
            position they attended most at the last step to ``ahead`` after it, so that no word
            is skipped or said twice (ESPnet's attention constraint for Tacotron 2: 1 and 3).
            None: anywhere. Training is unchanged.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    outputs = ("frames", "frames_postnet", "stop_logits", "stop_targets", "cross_attention", "cross_attention_mask")

    def __init__(self, fields: Mapping[str, Tokenizer], core: EncoderDecoder, objectives: Mapping[str, Objective] | None = None,
                 postnet_channels: int = 256, postnet_kernel: int = 5, postnet_layers: int = 5,
                 postnet_dropout: float = 0.5, stop_threshold: float = 0.5, max_seconds: float = 10.0,
                 attention_window: Sequence[int] | None = None, optimizer=None, scheduler=None,
                 predict_batch_size: int = 16):
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        target = self.target
        if target.prenet is None:
            raise ValueError("task=tts reads its previous frames back through the mel field's pre-net: "
                             "target.prenet_dim must be a width > 0 (256), not 0")
        self.frame_head = nn.Linear(core.d_model, target.reduction * target.n_mels)
        self.stop_head = nn.Linear(core.d_model, 1)
        self.postnet = PostNet(target.n_mels, postnet_channels, postnet_kernel, postnet_layers, postnet_dropout)
        # The decoder's attention weights are gathered only for an objective that reads them.
        self.keeps_attention = any("cross_attention" in objective.reads for objective in self.objectives.values())
        self.attention_window = attention_window
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "optimizer", "scheduler"])

    @property
    def attention_window(self) -> list[int] | None:
        """``[back, ahead]`` or None (see the class); may be set on a trained model before ``predict``."""
        return self._attention_window

    @attention_window.setter
    def attention_window(self, window: Sequence[int] | None) -> None:
        self.window = _attention_window(window, self.objectives.values(), self.core.decoder)
        self._attention_window = None if window is None else [int(size) for size in window]

    def default_objectives(self) -> dict[str, Objective]:
        return {"frames": Regression(output="frames", norm="l1"), "frames_postnet": Regression(output="frames_postnet", norm="l1"),
                "stop": BinaryCrossEntropy(pos_weight=8.0)}

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

    def flops(self, batch: Mapping[str, Batch]) -> Tensor:
        """Text positions: the encoder; decoder steps: the pre-net, decoder, frame and stop heads;
        frames: the post-net (each convolution weight acts once per frame)."""
        source, frames = batch["source"].lengths, batch["target"].lengths
        decoder = self.count_parameters(self.core.decoder, self.frame_head, self.stop_head)
        return (self.source.front_end_flops(source) + self.target.front_end_flops(frames)
                + training_flops((self.count_parameters(self.core.encoder), self.source.output_lengths(source).sum()),
                                 (decoder, self.target.output_lengths(frames).sum()),
                                 (self.count_parameters(self.postnet), frames.sum())))

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
        focus = torch.zeros(B, dtype=torch.long, device=memory.device)  # the text position attended most
        hidden = []
        for step in range(max_steps):
            if self.window is None:
                h = self.core.decoder.step(mel.embed_step(previous, step), cache)  # (B, 1, d)
            else:
                h, weights = self.core.decoder.step(mel.embed_step(previous, step), cache, need_weights=True,
                                                    memory_attn_masks=self.window.masks(focus, src_mask))
                focus = self.window.focus(weights)
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


class AttentionWindow:
    """Holds the guided heads (the first ``heads`` of the last ``layers`` of ``n_layers`` layers of
    ``n_heads``) of a decoding step to the text positions from ``back`` before to ``ahead`` after
    the focus, the position their mean attention peaked at in the step before."""

    def __init__(self, back: int, ahead: int, layers: int, heads: int, n_layers: int, n_heads: int):
        self.back, self.ahead, self.heads, self.n_heads = back, ahead, heads, n_heads
        self.guided = list(range(max(0, n_layers - layers), n_layers))
        self.n_layers = n_layers

    def masks(self, focus: Tensor, src_mask: Tensor) -> list[Tensor | None]:
        """(B,) focus and (B, S) text padding -> per layer a (B, n_heads, 1, S) mask (True = may
        attend: the window for the guided heads, every real position for the others), None for
        the layers not guided."""
        position = torch.arange(src_mask.size(1), device=src_mask.device)[None, :]
        near = (position >= (focus - self.back)[:, None]) & (position <= (focus + self.ahead)[:, None]) & ~src_mask
        guided = torch.arange(self.n_heads, device=src_mask.device)[None, :, None] < self.heads  # (1, H, 1)
        mask = torch.where(guided, near[:, None, :], ~src_mask[:, None, :])[:, :, None, :]  # (B, H, 1, S)
        return [mask if index in self.guided else None for index in range(self.n_layers)]

    def focus(self, weights: list[Tensor]) -> Tensor:
        """Per layer (B, H, 1, S) cross-attention -> (B,) the text position the guided heads
        attend most on average."""
        guided = torch.stack([weights[index][:, : self.heads, 0] for index in self.guided], 1)  # (B, l, h, S)
        return guided.float().mean((1, 2)).argmax(-1)


def _attention_window(window: Sequence[int] | None, objectives, decoder: nn.Module) -> AttentionWindow | None:
    if window is None:
        return None
    if len(window) != 2 or window[0] < 0 or window[1] < 1:
        raise ValueError(f"task.attention_window must be [back, ahead], text positions behind (>= 0) and ahead (>= 1, "
                         f"or the focus never moves) of the last peak (ESPnet: [1, 3]), or null; got {list(window)}")
    guided = [objective for objective in objectives if isinstance(objective, GuidedAttention)]
    if not guided:
        raise ValueError("task.attention_window holds the heads that guided_attention trains to a window; add a "
                         "guided_attention objective (conf/task/tts.yaml) or set task.attention_window=null")
    if len(decoder.layers) == 0:
        raise ValueError("task.attention_window holds decoder heads to a window; this decoder has no layers")
    n_heads = decoder.layers[0].cross_attn.n_heads
    return AttentionWindow(int(window[0]), int(window[1]), guided[0].layers, guided[0].heads, len(decoder.layers), n_heads)
