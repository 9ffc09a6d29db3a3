"""Text-to-frames alignment learned inside a non-autoregressive text-to-speech model ("One TTS
Alignment To Rule Them All", Badlani et al. 2022; NeMo's FastPitch and RAD-TTS): a soft
alignment of every frame over the characters, trained with the forward-sum (CTC) loss, made hard
by monotonic alignment search; its hard durations teach a duration predictor."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tformer.registry import OBJECTIVES
from tformer.tokenizers import Batch

from .objectives import Objective

__all__ = ["AlignmentEncoder", "beta_binomial_prior", "monotonic_alignment", "ForwardSum", "Binarization", "DurationLoss"]

_FAR = -1e4  # the log-probability of an impossible pair: finite, so no gradient turns NaN


def beta_binomial_prior(text_lengths: Tensor, frame_lengths: Tensor, n_text: int, n_frames: int,
                        scale: float = 1.0) -> Tensor:
    """(B, n_frames, n_text) log prior that frame t of T reads character k of N: the beta-binomial
    pmf of k over 0..N-1 with a = scale * (t + 1), b = scale * (T - t), a band along the diagonal
    (Badlani et al. 2022); 0 past the real pairs."""
    N, T = text_lengths.float()[:, None, None], frame_lengths.float()[:, None, None]
    k = torch.arange(n_text, device=text_lengths.device).float()[None, None, :]
    t = torch.arange(n_frames, device=text_lengths.device).float()[None, :, None]
    a, b = scale * (t + 1), scale * (T - t).clamp(min=1)
    n = (N - 1).clamp(min=0)
    log_choose = torch.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma((n - k).clamp(min=0) + 1)
    log_beta = lambda x, y: torch.lgamma(x) + torch.lgamma(y) - torch.lgamma(x + y)
    prior = log_choose + log_beta(k + a, (n - k).clamp(min=0) + b) - log_beta(a, b)
    real = (k < N) & (t < T)
    return prior.masked_fill(~real, 0.0)


class AlignmentEncoder(nn.Module):
    """Soft alignment of frames over characters: the log-softmax over characters of minus the
    scaled squared distance between convolved frames (queries) and convolved character
    embeddings (keys), plus a beta-binomial prior (RAD-TTS's aligner).

    Args:
        d_text: width of the character embeddings.
        n_mels: frame width.
        channels: width of the space the distances are measured in (80).
        temperature: the distances' scale (0.0005, as NeMo).
    """

    def __init__(self, d_text: int, n_mels: int, channels: int = 80, temperature: float = 0.0005):
        super().__init__()
        self.temperature = temperature
        self.keys = nn.Sequential(nn.Conv1d(d_text, 2 * d_text, 3, padding=1), nn.ReLU(), nn.Conv1d(2 * d_text, channels, 1))
        self.queries = nn.Sequential(nn.Conv1d(n_mels, 2 * n_mels, 3, padding=1), nn.ReLU(),
                                     nn.Conv1d(2 * n_mels, n_mels, 1), nn.ReLU(), nn.Conv1d(n_mels, channels, 1))

    def forward(self, text: Tensor, text_mask: Tensor, frames: Tensor, frame_lengths: Tensor) -> Tensor:
        # text: (B, N, d) with (B, N) padding mask; frames: (B, T, n_mels) -> log-probs (B, T, N)
        keys = self.keys(text.transpose(1, 2)).transpose(1, 2)  # (B, N, C)
        queries = self.queries(frames.transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        distance = (queries.pow(2).sum(-1, keepdim=True) - 2 * queries @ keys.transpose(1, 2)
                    + keys.pow(2).sum(-1)[:, None, :])  # (B, T, N) squared distances
        scores = (-self.temperature * distance).masked_fill(text_mask[:, None, :], float("-inf"))
        text_lengths = (~text_mask).sum(1)
        prior = beta_binomial_prior(text_lengths, frame_lengths, text.size(1), frames.size(1))
        log_probs = scores.log_softmax(-1) + prior
        return log_probs.masked_fill(text_mask[:, None, :], _FAR)


@torch.no_grad()
def monotonic_alignment(log_probs: Tensor, text_lengths: Tensor, frame_lengths: Tensor) -> Tensor:
    """The most probable monotonic path (Viterbi; Glow-TTS's monotonic alignment search): every
    frame reads one character, the first frame the first, the last frame the last, each next frame
    the same character or the next, so every character gets at least one frame.

    Args:
        log_probs: (B, T, N) log-probabilities of frame t reading character n.
        text_lengths, frame_lengths: (B,) real characters and frames (frames >= characters).

    Returns:
        (B, N) frames per character (durations), 0 past each item's characters.
    """
    B, T, N = log_probs.shape
    scores = log_probs.float().masked_fill(torch.arange(N, device=log_probs.device) >= text_lengths[:, None, None], _FAR)
    best = torch.full((B, N), float("-inf"), device=log_probs.device)  # the best path's score ending at n
    best[:, 0] = scores[:, 0, 0]
    moved = torch.zeros(B, T, N, dtype=torch.bool, device=log_probs.device)  # frame t started character n
    for t in range(1, T):
        advance = F.pad(best[:, :-1], (1, 0), value=float("-inf"))  # from character n - 1
        moved[:, t] = advance > best
        best = torch.maximum(best, advance) + scores[:, t]
    durations = torch.zeros(B, N, dtype=torch.long, device=log_probs.device)
    character = (text_lengths - 1).clone()
    rows = torch.arange(B, device=log_probs.device)
    for t in range(T - 1, -1, -1):
        real = t < frame_lengths
        durations[rows[real], character[real]] += 1
        step = real & moved[rows, t, character] & (character > 0)
        character = character - step.long()
    return durations


@OBJECTIVES.register("forward_sum")
class ForwardSum(Objective):
    """The forward-sum loss of the soft alignment: minus the log of the summed probability of every
    monotonic path through all characters, by CTC with the characters as the labels and a blank
    of fixed log-probability (Badlani et al. 2022); per character, the mean over items.

    Args:
        weight: its share of the task's loss.
        blank_log_prob: the blank's log-probability before normalizing (-1, as NeMo).
    """

    reads = ("alignment", "text_lengths", "step_lengths")

    def __init__(self, weight: float = 1.0, blank_log_prob: float = -1.0):
        super().__init__(weight)
        self.blank_log_prob = blank_log_prob

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        log_probs, text_lengths, step_lengths = (outputs[name] for name in self.reads)
        padded = F.pad(log_probs.float(), (1, 0), value=self.blank_log_prob).log_softmax(-1)  # (B, T, 1 + N)
        labels = torch.arange(1, log_probs.size(2) + 1, device=log_probs.device).expand(log_probs.size(0), -1)
        return F.ctc_loss(padded.transpose(0, 1), labels, step_lengths, text_lengths, blank=0, zero_infinity=True)


@OBJECTIVES.register("binarization")
class Binarization(Objective):
    """Pulls the soft alignment towards its hard path: minus the mean log-probability of the path's
    (frame, character) pairs. Off for the first ``start`` updates, while the soft alignment is
    still finding its way (NeMo starts it a fifth into training).

    Args:
        weight: its share of the task's loss.
        start: the update it starts at.
    """

    reads = ("alignment", "durations")

    def __init__(self, weight: float = 1.0, start: int = 0):
        super().__init__(weight)
        self.start = start
        self._updates = lambda: self.start  # replaced in bind: the task's update count

    def bind(self, task: Any) -> None:
        self._updates = lambda: task.global_step

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        log_probs, durations = (outputs[name] for name in self.reads)
        if self._updates() < self.start:
            return log_probs.new_zeros(())
        path = hard_path(durations, log_probs.size(1))  # (B, T) the character each frame reads, -1 past the end
        picked = log_probs.float().gather(2, path.clamp(min=0)[..., None])[..., 0]  # (B, T)
        return -picked[path >= 0].mean()


def hard_path(durations: Tensor, n_frames: int) -> Tensor:
    """(B, N) frames per character -> (B, n_frames) the character each frame reads, -1 past the
    item's frames (the length regulator's index)."""
    ends = durations.cumsum(1)  # (B, N)
    frames = torch.arange(n_frames, device=durations.device).expand(durations.size(0), -1).contiguous()
    index = torch.searchsorted(ends, frames, right=True)  # (B, T)
    return index.masked_fill(frames >= ends[:, -1:], -1)


@OBJECTIVES.register("durations")
class DurationLoss(Objective):
    """Mean squared error of the predicted log durations against the log of the hard alignment's
    durations, over the real characters (FastSpeech 2).

    Args:
        weight: its share of the task's loss (0.1 in NeMo's FastPitch).
    """

    reads = ("log_durations", "durations", "text_lengths")

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        predicted, durations, text_lengths = (outputs[name] for name in self.reads)
        real = torch.arange(durations.size(1), device=durations.device)[None, :] < text_lengths[:, None]
        return F.mse_loss(predicted.float()[real], durations.float()[real].clamp(min=1).log())
