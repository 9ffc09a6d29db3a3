"""CTC prefix scores for beam search: joint CTC/attention decoding (Watanabe et al. 2017).

An attention decoder may end a hypothesis early, or repeat a word, where its input is unlike
its training data; CTC's monotonic alignment does not let a hypothesis end before the frames
are spent. At each step every hypothesis ``g`` and candidate label ``c`` get

    log p_CTC(g·c... | x) - log p_CTC(g... | x)

(the probability that CTC's output starts with ``g·c``; for ``c`` = EOS, that it is exactly
``g``), which the search adds, weighted, to the decoder's log-probability. Batched over
hypotheses and candidates, as ESPnet's ``CTCPrefixScoreTH``; one loop over the frames.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["CtcPrefixScorer"]

NEG_INF = float("-inf")


class CtcPrefixScorer:
    """The CTC prefix scores of ``beam`` hypotheses per input, advanced as the search extends them.

    Args:
        log_probs: (B, T, V) CTC log-probabilities over the decoder's vocabulary.
        lengths: (B,) valid frames per input.
        blank: CTC's blank id (never a candidate).
        eos: the decoder's end id (scored as "the output is exactly the prefix").
        beam: hypotheses per input; hypothesis ``b * beam + j`` belongs to input ``b``.
    """

    def __init__(self, log_probs: Tensor, lengths: Tensor, blank: int, eos: int, beam: int):
        batch, frames, _ = log_probs.shape
        x = log_probs.float().transpose(0, 1).repeat_interleave(beam, dim=1)  # (T, N, V)
        padding = torch.arange(frames, device=x.device).unsqueeze(1) >= lengths.to(x.device).repeat_interleave(beam)
        x = x.masked_fill(padding.unsqueeze(2), NEG_INF)  # past its end an input emits blank with certainty
        x[..., blank] = x[..., blank].masked_fill(padding, 0.0)
        self.x, self.blank, self.eos = x, blank, eos
        self.x_blank = x[:, :, blank].unsqueeze(2)  # (T, N, 1): read at every step
        n = batch * beam
        # r[t, n] = log-probabilities that frames 1..t emit hypothesis n, its last frame (0) a label or (1) a blank
        blanks = self.x_blank.squeeze(2).cumsum(0)
        self.r = torch.stack([torch.full_like(blanks, NEG_INF), blanks], dim=2)  # the empty prefix
        self.prefix_score = torch.zeros(n, device=x.device)  # log p_CTC(g...), 0 for the empty prefix
        self.last = torch.full((n,), -1, dtype=torch.long, device=x.device)  # g's last label, -1 for none
        self.length = 0  # labels in every hypothesis so far
        self._pending: tuple[Tensor, Tensor, Tensor] | None = None

    def score(self, candidates: Tensor) -> Tensor:
        """(N, C) candidate labels per hypothesis -> (N, C) their prefix-score increments.

        The blank scores ``-inf``; EOS the probability of the hypothesis as it is.
        """
        x = self.x.gather(2, candidates.unsqueeze(0).expand(self.x.size(0), -1, -1))  # (T, N, C)
        frames = x.size(0)
        r_total = torch.logaddexp(self.r[..., 0], self.r[..., 1])  # (T, N)
        # phi[t]: frames 1..t emit g and leave the next frame free to start c (after a blank if c repeats g's last)
        repeats = (candidates == self.last.unsqueeze(1)).unsqueeze(0)  # (1, N, C)
        phi = torch.where(repeats, self.r[..., 1].unsqueeze(2), r_total.unsqueeze(2))  # (T, N, C)
        r = torch.full((frames, *candidates.shape, 2), NEG_INF, device=x.device)
        if self.length == 0:
            r[0, ..., 0] = x[0]
        for t in range(max(1, self.length), frames):
            r[t, ..., 0] = torch.logaddexp(r[t - 1, ..., 0], phi[t - 1]) + x[t]
            r[t, ..., 1] = torch.logaddexp(r[t - 1, ..., 0], r[t - 1, ..., 1]) + self.x_blank[t]
        start = r[0, ..., 0].unsqueeze(0)
        score = torch.logsumexp(torch.cat([start, phi[:-1] + x[1:]], dim=0), dim=0)  # (N, C)
        score = torch.where(candidates == self.eos, r_total[-1].unsqueeze(1), score)
        score = score.masked_fill(candidates == self.blank, NEG_INF)
        self._pending = (r, score, candidates)
        previous = self.prefix_score.unsqueeze(1)
        return (score - previous).masked_fill(previous == NEG_INF, NEG_INF)  # an impossible prefix stays impossible, not NaN

    def advance(self, hypotheses: Tensor, labels: Tensor) -> None:
        """Keep hypothesis ``hypotheses[n]`` extended by ``labels[n]`` as the new hypothesis ``n``
        (each a candidate of the last ``score``)."""
        r, score, candidates = self._pending
        column = (candidates.index_select(0, hypotheses) == labels.unsqueeze(1)).float().argmax(1)
        self.r = r[:, hypotheses, column]
        self.prefix_score = score[hypotheses, column]
        self.last = labels
        self.length += 1
        self._pending = None
