"""Sequence to text with an encoder-decoder: translation (text source), captioning (image), speech
recognition (audio, with a CTC objective and a CTC-rescored beam: ``conf/task/asr.yaml``)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from tformer.core import Decoding, EncoderDecoder, encoder_decoder_decoding
from tformer.flops import training_flops
from tformer.kinds import TEXT
from tformer.registry import TASKS
from tformer.tokenizers import Batch, TextOutput, Tokenizer

from .base import Task
from .generators import Beam, Generator
from .metrics import text_metrics
from .objectives import IGNORE, CrossEntropy, Objective

__all__ = ["TranslationTask", "shift_target"]


def shift_target(target: Batch, text: TextOutput) -> tuple[Tensor, Tensor, Tensor]:
    """Content ids (B, T) -> decoder input ``<bos> y`` (B, T+1), its lengths, gold ``y <eos>``
    with ``IGNORE`` at the padding."""
    ids, lengths = target.values, target.lengths.to(target.values.device)
    B = ids.size(0)
    bos = ids.new_full((B, 1), text.bos_id)
    pad = ids.new_full((B, 1), text.pad_id)
    decoder_input = torch.cat([bos, ids], 1)
    gold = torch.cat([ids, pad], 1)
    gold[torch.arange(B, device=ids.device), lengths] = text.eos_id
    gold = gold.masked_fill(torch.arange(gold.size(1), device=ids.device)[None, :] > lengths[:, None], IGNORE)
    return decoder_input, lengths + 1, gold


@TASKS.register("translation")
class TranslationTask(Task):
    """Any source modality -> text with an encoder-decoder Transformer.

    Args:
        fields: ``source`` (any modality) and ``target`` (a text tokenizer) tokenizers.
        core: the shared ``EncoderDecoder``.
        objectives: by default label-smoothed cross entropy (0.1, the paper's); add ``ctc`` for ASR.
        generator: what decodes at test and prediction time (default: beam 4, length penalty 0.6).
        metrics: text metrics by name (``bleu``, ``wer``, ``cer``); the first is in the progress bar.
        max_len_offset: outputs stop at source length + this many tokens (50).
        val_decode: decode validation batches greedily to report the metrics.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    field_names = ("source", "target")
    input_field = "source"
    token_fields = ("source", "target")
    outputs = ("logits", "hidden", "targets", "memory", "memory_pad_mask")
    empty_result = ""
    piece_separator = " "  # a long recording's chunks are transcribed apart and their texts joined

    def __init__(
        self,
        fields: Mapping[str, Tokenizer],
        core: EncoderDecoder,
        objectives: Mapping[str, Objective] | None = None,
        generator: Generator | None = None,
        metrics: list[str] | tuple[str, ...] = ("bleu",),
        max_len_offset: int = 50,
        val_decode: bool = True,
        optimizer=None,
        scheduler=None,
        predict_batch_size: int = 32,
    ):
        if not isinstance(fields.get("target"), TextOutput):
            raise ValueError(f"{type(self).__name__} writes text: its target must be a text tokenizer (text_bpe, "
                             f"text_char), got {type(fields.get('target')).__name__}")
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        self.generator = generator if generator is not None else Beam(4, 0.6)
        self.generator.check(self)
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "generator", "optimizer", "scheduler"])
        self.text_metrics = nn.ModuleDict({stage: nn.ModuleDict(text_metrics(list(metrics))) for stage in ("val", "test")})

    def default_objectives(self) -> dict[str, Objective]:
        return {"cross_entropy": CrossEntropy(label_smoothing=0.1)}

    @property
    def source(self) -> Tokenizer:
        return self.fields["source"]

    @property
    def target(self) -> TextOutput:
        return self.fields["target"]

    def encode(self, source: Batch) -> tuple[Tensor, Tensor]:
        """Collated source -> encoder memory (B, S, d) and its padding mask (B, S)."""
        x, src_mask = self.source(source.values, source.lengths)
        return self.core.encode(x, src_mask), src_mask

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        memory, src_mask = self.encode(batch["source"])
        decoder_input, lengths, gold = shift_target(batch["target"], self.target)
        y, y_mask = self.target(decoder_input, lengths)
        # right-padded targets: the causal mask suffices, unless the decoder packs them
        hidden = self.core.decoder(y, memory, src_mask, y_mask if self.core.decoder.uses_pad_mask else None)
        outputs = {"hidden": hidden, "targets": gold, "memory": memory, "memory_pad_mask": src_mask}
        if "logits" in self.read_outputs:  # a chunked cross entropy projects the hidden states itself
            outputs["logits"] = self.target.project(hidden)
        return outputs

    def loss_weight(self, batch: Mapping[str, Batch]) -> int:
        target = batch["target"]
        return int(target.lengths.sum()) + target.lengths.numel()  # tokens plus one EOS each

    def flops(self, batch: Mapping[str, Batch]) -> Tensor:
        """Source positions: the source front-end, the encoder and the objectives' own layers (CTC's
        head reads the memory); ``<bos> y`` positions: the decoder and the output layer."""
        source, target = batch["source"], batch["target"]
        encoder = self.count_parameters(self.core.encoder, self.objectives)
        decoder = self.count_parameters(self.core.decoder) + self.target.projection_parameters()
        return (self.source.front_end_flops(source.lengths) + self.target.front_end_flops(target.lengths + 1)
                + training_flops((encoder, self.source.output_lengths(source.lengths).sum()),
                                 (decoder, target.lengths.sum() + target.lengths.numel())))

    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        if stage == "val" and not self.hparams.val_decode:
            return
        hypotheses = self.decode(outputs, self.generator.for_validation() if stage == "val" else self.generator)
        target = batch["target"]
        references = [self.target.decode(ids[:n]) for ids, n in zip(target.values.tolist(), target.lengths.tolist())]
        for index, (name, metric) in enumerate(self.text_metrics[stage].items()):
            metric.update(hypotheses, references)
            self.log(f"{stage}/{name}", metric, prog_bar=index == 0, batch_size=len(hypotheses))

    def infer(self, batch: Mapping[str, Batch]) -> list[str]:
        memory, src_mask = self.encode(batch["source"])
        return self.decode({"memory": memory, "memory_pad_mask": src_mask}, self.generator)

    def decoding(self, memory: Tensor, src_mask: Tensor, generator: Generator | None = None) -> Decoding:
        """What ``generator`` (the task's by default) drives for an encoded batch: outputs end at
        source length + ``max_len_offset``."""
        options = (self.generator if generator is None else generator).decoding_options()
        max_len = (~src_mask).sum(1) + self.hparams.max_len_offset
        if self.target.max_positions is not None:  # learned positions end there
            max_len = max_len.clamp(max=self.target.max_positions)
        return encoder_decoder_decoding(self.core.decoder, memory, src_mask, self.target.embed_step,
                                        self.target.project, self.target.bos_id, self.target.eos_id, max_len, **options)

    def search(self, outputs: Mapping[str, Tensor], generator: Generator | None = None) -> list[list[int]]:
        """Token ids (no BOS/EOS) for an encoded batch (``memory``, ``memory_pad_mask``)."""
        generator = self.generator if generator is None else generator
        if not generator.drives_decoder:
            return generator.generate(self, None, outputs)
        decoding = self.decoding(outputs["memory"], outputs["memory_pad_mask"], generator)
        return generator.generate(self, decoding, outputs)

    def decode(self, outputs: Mapping[str, Tensor], generator: Generator | None = None) -> list[str]:
        """Decoded strings for an encoded batch (see ``search``)."""
        return [self.target.decode(row) for row in self.search(outputs, generator)]

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """The better of copying the source (text sources) and always the most frequent training
        output, scored with the first metric. Every process scores the whole test split alone, so
        the metric does not wait for the others."""
        metrics = text_metrics(list(self.hparams.metrics), sync_on_compute=False)
        name, metric = next(iter(metrics.items()))
        sources, targets = (data.column_of(field) for field in ("source", "target"))
        references = [str(t) for t in data.test.column(targets)]
        common, _ = Counter(str(t) for t in data.train.column(targets)).most_common(1)[0]
        candidates = {f"always the most frequent training output ({common!r})": [common] * len(references)}
        if TEXT in (self.source.reads or ()) and all(isinstance(s, str) for s in data.test.column(sources)):
            candidates["copy the source"] = [str(s) for s in data.test.column(sources)]
        scores = {}
        for what, hypotheses in candidates.items():
            metric.reset()
            metric.update(hypotheses, references)
            scores[what] = float(metric.compute())
        pick = max if metric.higher_is_better else min
        best = pick(scores, key=scores.get)
        return f"test/{name}", scores[best], best
