"""Sequence to text: translation (text source), captioning (image), speech translation (audio)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.text import SacreBLEUScore

from tformer.core import Decoding, EncoderDecoder, beam_search, encoder_decoder_decoding, greedy_search
from tformer.registry import TASKS
from tformer.tokenizers import Batch, TextOutput, Tokenizer

from .base import Task

__all__ = ["TranslationTask", "SacreBLEU", "shift_target"]


class SacreBLEU(SacreBLEUScore):
    """Corpus BLEU on sacreBLEU's usual 0-100 scale (torchmetrics' own is 0-1), one reference
    per hypothesis given as a plain string."""

    def update(self, preds: list[str], target: list[str]) -> None:
        super().update(preds, [[text] for text in target])

    def compute(self) -> Tensor:
        return super().compute() * 100


def shift_target(target: Batch, text: TextOutput) -> tuple[Tensor, Tensor, Tensor]:
    """Content ids (B, T) -> decoder input ``<bos> y`` (B, T+1), its lengths, gold ``y <eos>``."""
    ids, lengths = target.values, target.lengths.to(target.values.device)
    B = ids.size(0)
    bos = ids.new_full((B, 1), text.bos_id)
    pad = ids.new_full((B, 1), text.pad_id)
    decoder_input = torch.cat([bos, ids], 1)
    gold = torch.cat([ids, pad], 1)
    gold[torch.arange(B, device=ids.device), lengths] = text.eos_id
    return decoder_input, lengths + 1, gold


@TASKS.register("translation")
class TranslationTask(Task):
    """Any source modality -> text with an encoder-decoder Transformer.

    Args:
        source, target, optimizer, scheduler, predict_batch_size: see ``Task``.
        core: the shared ``EncoderDecoder``.
        label_smoothing: cross-entropy label smoothing (0.1 in the paper).
        beam_size: beam width at test and prediction time (1 = greedy).
        length_penalty: GNMT alpha (0.6).
        max_len_offset: outputs stop at source length + this many tokens (50).
        val_decode: decode validation batches with greedy search to report BLEU.
    """

    empty_result = ""

    def __init__(
        self,
        source: Tokenizer,
        target: TextOutput,
        core: EncoderDecoder,
        optimizer=None,
        scheduler=None,
        label_smoothing: float = 0.1,
        beam_size: int = 4,
        length_penalty: float = 0.6,
        max_len_offset: int = 50,
        val_decode: bool = True,
        predict_batch_size: int = 32,
    ):
        super().__init__(source, target, optimizer, scheduler, predict_batch_size)
        _check_widths(source, target, core)
        self.core = core
        self.save_hyperparameters(ignore=["source", "target", "core", "optimizer", "scheduler"])
        self.text_metrics = nn.ModuleDict({stage: nn.ModuleDict(self.new_text_metrics()) for stage in ("val", "test")})

    def new_text_metrics(self) -> dict[str, Metric]:
        """The metrics of decoded text, by name; each takes ``update(hypotheses, references)``
        (lists of strings); the first is shown in the progress bar."""
        return {"bleu": SacreBLEU()}

    def loss(self, source: Batch, target: Batch) -> tuple[Tensor, Any]:
        memory, src_mask = self.encode(source)
        decoder_input, lengths, gold = shift_target(target, self.target)
        y, _ = self.target(decoder_input, lengths)
        hidden = self.core.decoder(y, memory, src_mask)  # right-padded targets: causal mask suffices
        logits = self.target.project(hidden)  # (B, T, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1).float(), gold.flatten(), ignore_index=self.target.pad_id,
            label_smoothing=self.hparams.label_smoothing,
        )
        return loss, (memory, src_mask)

    def loss_weight(self, target: Batch) -> int:
        return int(target.lengths.sum()) + target.lengths.numel()  # tokens plus one EOS each

    def encode(self, source: Batch) -> tuple[Tensor, Tensor]:
        """Collated source -> encoder memory (B, S, d) and its padding mask (B, S)."""
        x, src_mask = self.source(source.values, source.lengths)
        return self.core.encode(x, src_mask), src_mask

    def update_metrics(self, stage: str, source: Batch, target: Batch, outputs: Any) -> None:
        if stage == "val" and not self.hparams.val_decode:
            return
        hypotheses = self.decode(*outputs, beam_size=1 if stage == "val" else self.hparams.beam_size)
        references = self.references(target)
        for index, (name, metric) in enumerate(self.text_metrics[stage].items()):
            metric.update(hypotheses, references)
            self.log(f"{stage}/{name}", metric, prog_bar=index == 0, batch_size=len(hypotheses))

    def references(self, target: Batch) -> list[str]:
        return [self.target.decode(ids[:n]) for ids, n in zip(target.values.tolist(), target.lengths.tolist())]

    def infer(self, source: Batch) -> list[str]:
        return self.decode(*self.encode(source), beam_size=self.hparams.beam_size)

    def search(self, memory: Tensor, src_mask: Tensor, beam_size: int) -> list[list[int]]:
        """Token ids (no BOS/EOS) for an encoded batch: beam search, or greedy when ``beam_size == 1``."""
        decoding = self.decoding(memory, src_mask)
        if beam_size > 1:
            return beam_search(decoding, beam_size=beam_size, alpha=self.hparams.length_penalty)
        return greedy_search(decoding)

    def decoding(self, memory: Tensor, src_mask: Tensor) -> Decoding:
        """What ``greedy_search``/``beam_search`` drive for an encoded batch."""
        max_len = (~src_mask).sum(1) + self.hparams.max_len_offset
        if self.target.max_positions is not None:  # learned positions end there
            max_len = max_len.clamp(max=self.target.max_positions)
        return encoder_decoder_decoding(self.core.decoder, memory, src_mask, self.target.embed_step,
                                        self.target.project, self.target.bos_id, self.target.eos_id, max_len)

    def decode(self, memory: Tensor, src_mask: Tensor, beam_size: int) -> list[str]:
        """Decoded strings for an encoded batch (see ``search``)."""
        return [self.target.decode(row) for row in self.search(memory, src_mask, beam_size)]


def _check_widths(source: Tokenizer, target: Tokenizer, core) -> None:
    width = core.init_kwargs.get("d_model")
    for side, tokenizer in (("source", source), ("target", target)):
        if getattr(tokenizer, "d_model", None) not in (None, width):
            raise ValueError(f"{side} tokenizer d_model ({tokenizer.d_model}) differs from the model's d_model ({width})")
