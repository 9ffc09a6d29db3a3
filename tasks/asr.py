"""Speech recognition: audio -> text with a joint CTC + attention loss (Watanabe et al. 2017)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.text import CharErrorRate, WordErrorRate

from tformer.core import EncoderDecoder, Hypothesis, beam_search_nbest
from tformer.registry import TASKS
from tformer.tokenizers import Batch, TextOutput, Tokenizer

from .translation import TranslationTask

__all__ = ["AsrTask", "ctc_greedy"]


@TASKS.register("asr")
class AsrTask(TranslationTask):
    """Audio encoder-decoder trained with ``ctc_weight · CTC + (1 - ctc_weight) · attention``.

    The CTC head sits on the encoder output; its blank is the target's ``<pad>`` id. Decoding
    is attention beam search; its finished hypotheses are rescored with
    ``(1 - λ) · log p_attention + λ · log p_CTC`` (λ = ``decode_ctc_weight``), which rejects
    hypotheses whose length or words the audio does not support (dropped or repeated words).
    Args as ``TranslationTask`` plus:

    Args:
        ctc_weight: weight of the CTC loss (0.3, as in ESPnet's recipes).
        decode_ctc_weight: λ when rescoring beams (``None``: ``ctc_weight``; 0: attention only).
    """

    def __init__(
        self,
        source: Tokenizer,
        target: TextOutput,
        core: EncoderDecoder,
        optimizer=None,
        scheduler=None,
        ctc_weight: float = 0.3,
        decode_ctc_weight: float | None = None,
        label_smoothing: float = 0.1,
        beam_size: int = 4,
        length_penalty: float = 0.6,
        max_len_offset: int = 50,
        val_decode: bool = True,
        predict_batch_size: int = 32,
    ):
        if not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"task.ctc_weight must be within [0, 1], got {ctc_weight}")
        if decode_ctc_weight is not None and not 0.0 <= decode_ctc_weight <= 1.0:
            raise ValueError(f"task.decode_ctc_weight must be within [0, 1] or null, got {decode_ctc_weight}")
        super().__init__(source, target, core, optimizer, scheduler, label_smoothing, beam_size,
                         length_penalty, max_len_offset, val_decode, predict_batch_size)
        self.save_hyperparameters(ignore=["source", "target", "core", "optimizer", "scheduler"])
        self.ctc_head = nn.Linear(core.d_model, target.vocab_size)

    def new_text_metrics(self) -> dict[str, Metric]:
        return {"wer": WordErrorRate(), "cer": CharErrorRate()}

    def loss(self, source: Batch, target: Batch) -> tuple[Tensor, Any]:
        attention_loss, (memory, src_mask) = super().loss(source, target)
        w = self.hparams.ctc_weight
        if w == 0.0:
            return attention_loss, (memory, src_mask)
        ctc = self._ctc_loss(memory, src_mask, target)
        return w * ctc + (1 - w) * attention_loss, (memory, src_mask)

    def _ctc_log_probs(self, memory: Tensor) -> Tensor:
        """(B, T, d) encoder output -> (T, B, V) CTC log-probabilities, in float32 whatever the
        autocast dtype: half precision overflows CTC's sums."""
        return self.ctc_head(memory).float().log_softmax(-1).transpose(0, 1)

    def _ctc_loss(self, memory: Tensor, src_mask: Tensor, target: Batch) -> Tensor:
        log_probs = self._ctc_log_probs(memory)  # (T, B, V)
        input_lengths = (~src_mask).sum(1)
        lengths = target.lengths.to(memory.device)
        total = F.ctc_loss(log_probs, target.values, input_lengths, lengths, blank=self.target.pad_id,
                           reduction="sum", zero_infinity=True)
        return total / (lengths.sum() + lengths.numel())  # per token, like the attention loss

    def search(self, memory: Tensor, src_mask: Tensor, beam_size: int) -> list[list[int]]:
        """Attention beam search rescored with CTC (greedy attention search when ``beam_size == 1``)."""
        weight = self.hparams.decode_ctc_weight
        weight = self.hparams.ctc_weight if weight is None else weight
        if beam_size == 1 or weight == 0.0:
            return super().search(memory, src_mask, beam_size)
        n_best = beam_search_nbest(self.decoding(memory, src_mask), beam_size=beam_size,
                                   alpha=self.hparams.length_penalty)
        ctc = self.ctc_log_likelihood(memory, src_mask, n_best)
        best = []
        for hypotheses, ctc_scores in zip(n_best, ctc):
            scores = [(1 - weight) * h.log_prob + weight * c for h, c in zip(hypotheses, ctc_scores)]
            best.append(hypotheses[max(range(len(scores)), key=scores.__getitem__)].ids if hypotheses else [])
        return best

    @torch.no_grad()
    def ctc_log_likelihood(self, memory: Tensor, src_mask: Tensor, n_best: list[list[Hypothesis]]) -> list[list[float]]:
        """log p_CTC(ids | audio) of every hypothesis (``-inf`` where the audio is too short for it)."""
        rows = [b for b, hypotheses in enumerate(n_best) for _ in hypotheses]
        if not rows:
            return [[] for _ in n_best]
        index = torch.tensor(rows, device=memory.device)
        log_probs = self._ctc_log_probs(memory).index_select(1, index)  # (T, N, V), one column per hypothesis
        ids = [h.ids for hypotheses in n_best for h in hypotheses]
        lengths = torch.tensor([len(i) for i in ids], device=memory.device)
        targets = torch.zeros(len(ids), max(1, int(lengths.max())), dtype=torch.long, device=memory.device)
        for row, hypothesis in enumerate(ids):
            targets[row, : len(hypothesis)] = torch.tensor(hypothesis, dtype=torch.long)
        nll = F.ctc_loss(log_probs, targets, (~src_mask).sum(1).index_select(0, index), lengths,
                         blank=self.target.pad_id, reduction="none")
        scores = (-nll).tolist()
        out, start = [], 0
        for hypotheses in n_best:
            out.append(scores[start : start + len(hypotheses)])
            start += len(hypotheses)
        return out

    @torch.no_grad()
    def transcribe_ctc(self, source: Batch) -> list[str]:
        """Greedy CTC transcripts (no decoder), e.g. to check the encoder alone."""
        memory, src_mask = self.encode(source)
        ids = ctc_greedy(self.ctc_head(memory), src_mask, self.target.pad_id)
        return [self.target.decode(row) for row in ids]


def ctc_greedy(logits: Tensor, pad_mask: Tensor, blank: int) -> list[list[int]]:
    """Best path: argmax per frame, merge repeats, drop blanks."""
    best = logits.argmax(-1).masked_fill(pad_mask, blank).tolist()
    out = []
    for row in best:
        ids, previous = [], blank
        for token in row:
            if token != previous and token != blank:
                ids.append(token)
            previous = token
        out.append(ids)
    return out
