"""Sequence labelling: a tag per word of a text, in one or more tag fields (punctuation and case
restoration, named entities). Word-level tags meet subword tokens where the text tokenizer says
each word starts (``word_starts``); a word is read at its first token, as BERT's taggers do."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from tformer.core import Encoder
from tformer.core.dropout import Dropout
from tformer.registry import OBJECTIVES, TASKS
from tformer.tokenizers import Batch, TagTokenizer, TextOutput, Tokenizer
from tformer.tokenizers.tags import IGNORE

from .base import Task
from .long_inputs import AUTO
from .objectives import Objective

__all__ = ["TaggingTask", "TagCrossEntropy"]


@OBJECTIVES.register("tag_cross_entropy")
class TagCrossEntropy(Objective):
    """Cross entropy of one tag field's ``logits_<field>`` (B, W, n_tags), the mean over real words.

    Args:
        field: the tag field.
        weight: its share of the task's loss.
        label_smoothing: as for ``CrossEntropy``.
    """

    def __init__(self, field: str, weight: float = 1.0, label_smoothing: float = 0.0):
        super().__init__(weight)
        self.field, self.label_smoothing = field, label_smoothing
        self.reads = (f"logits_{field}",)

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        logits = outputs[f"logits_{self.field}"]
        tags = batch[self.field].values.to(logits.device)
        return F.cross_entropy(logits.flatten(0, 1).float(), tags.flatten(), ignore_index=IGNORE,
                               label_smoothing=self.label_smoothing)


@TASKS.register("tagging")
class TaggingTask(Task):
    """Encoder over a text ``source``; a linear head per tag field reads each word's first token.

    Args:
        fields: ``source`` (a text tokenizer: text_bpe or text_char) and one or more tag fields
            (``tags`` tokenizers), e.g. ``punctuation`` and ``case``.
        core: the shared ``Encoder``.
        objectives: by default ``tag_cross_entropy`` for each tag field, weight 1.
        head_dropout: dropout before the heads.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    field_names = ("source",)
    input_field = "source"

    def __init__(
        self,
        fields: Mapping[str, Tokenizer],
        core: Encoder,
        objectives: Mapping[str, Objective] | None = None,
        head_dropout: float = 0.0,
        optimizer=None,
        scheduler=None,
        predict_batch_size: int = 64,
    ):
        _check_fields(fields)
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "optimizer", "scheduler"])
        self.heads = nn.ModuleDict({name: nn.Sequential(Dropout(head_dropout), nn.Linear(core.d_model, fields[name].n_tags))
                                    for name in self.tag_fields})
        self.metrics = nn.ModuleDict({
            f"{stage}_{kind}_{name}": _metric(kind, fields[name].n_tags)
            for stage in ("val", "test") for name in self.tag_fields for kind in ("acc", "f1", "f1_each")
        })

    @property
    def tag_fields(self) -> list[str]:
        """The fields that hold tags (every field but ``source``)."""
        return [name for name in self.fields if name != "source"]

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(f"logits_{name}" for name in self.tag_fields)

    @property
    def source(self) -> TextOutput:
        return self.fields["source"]

    def default_objectives(self) -> dict[str, Objective]:
        return {f"cross_entropy_{name}": TagCrossEntropy(name) for name in self.tag_fields}

    def word_states(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T) token ids -> (B, W, d) states at each word's first token, and (B,) words per item."""
        x, pad_mask = self.source(values, lengths)
        h = self.core(x, pad_mask)  # (B, T, d)
        starts = self.source.word_starts(values) & ~pad_mask  # (B, T)
        counts = starts.sum(1)
        rows, columns = starts.nonzero(as_tuple=True)
        slots = starts.long().cumsum(1)[rows, columns] - 1  # the word each start begins
        words = h.new_zeros(h.size(0), int(counts.max()) if counts.numel() else 0, h.size(-1))
        words[rows, slots] = h[rows, columns]
        return words, counts

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        words, counts = self.word_states(batch["source"].values, batch["source"].lengths)
        for name in self.tag_fields:
            _check_alignment(counts, batch[name].lengths, name)
        return {f"logits_{name}": self.heads[name](words) for name in self.tag_fields}

    def loss_weight(self, batch: Mapping[str, Batch]) -> int:
        """Words: the losses are means over words."""
        return int(batch[self.tag_fields[0]].lengths.sum())

    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        for name in self.tag_fields:
            predicted = outputs[f"logits_{name}"].argmax(-1)
            tags = batch[name].values.to(predicted.device)
            for kind in ("acc", "f1", "f1_each"):
                self.metrics[f"{stage}_{kind}_{name}"].update(predicted, tags)
            for kind in ("acc", "f1"):
                self.log(f"{stage}/{kind}_{name}", self.metrics[f"{stage}_{kind}_{name}"],
                         prog_bar=kind == "f1", batch_size=int(batch[name].lengths.sum()))

    def on_validation_epoch_end(self) -> None:
        self._log_each_tag("val")

    def on_test_epoch_end(self) -> None:
        self._log_each_tag("test")

    def _log_each_tag(self, stage: str) -> None:
        """Per-tag F1 (``val/f1_punctuation_COMMA``), over the whole split (synchronized across processes)."""
        for name in self.tag_fields:
            metric = self.metrics[f"{stage}_f1_each_{name}"]
            if metric.update_count == 0:
                continue
            for tag, value in zip(self.fields[name].tags, metric.compute()):
                self.log(f"{stage}/f1_{name}_{tag}", value)
            metric.reset()

    def infer(self, batch: Mapping[str, Batch]) -> list[dict[str, list[str]]]:
        words, counts = self.word_states(batch["source"].values, batch["source"].lengths)
        tags = {name: self.heads[name](words).argmax(-1).tolist() for name in self.tag_fields}
        return [{name: self.fields[name].decode(tags[name][i][: int(n)]) for name in self.tag_fields}
                for i, n in enumerate(counts.tolist())]

    @torch.no_grad()
    def predict(self, inputs: Sequence[Any], chunk_seconds: float | str | None = AUTO) -> list[dict[str, list[str]]]:
        """Texts -> ``{"words": [...], <tag field>: [one tag per word], ...}`` per text, in order.

        The text is split at whitespace into its words (so a word of the result is what the text
        holds there); an empty text is an error naming it, a text longer than the model's positions
        is refused naming the limit. See ``Task.predict``.
        """
        if isinstance(inputs, (str, bytes)):
            raise TypeError("predict takes a list of inputs; wrap a single input in a list")
        texts = [" ".join(str(text).split()) for text in inputs]
        tagged = super().predict(texts, chunk_seconds)
        return [{"words": text.split(), **tags} for text, tags in zip(texts, tagged)]

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """The first tag field's most frequent training tag for every word: its accuracy."""
        name = self.tag_fields[0]
        column = data.column_of(name)
        common, _ = Counter(t for line in data.train.column(column) for t in line.split()).most_common(1)[0]
        tags = [t for line in data.test.column(column) for t in line.split()]
        return f"test/acc_{name}", sum(t == common for t in tags) / max(len(tags), 1), f"always {common!r}"


def _metric(kind: str, n_tags: int) -> nn.Module:
    if kind == "acc":
        return MulticlassAccuracy(n_tags, average="micro", ignore_index=IGNORE)
    return MulticlassF1Score(n_tags, average="macro" if kind == "f1" else "none", ignore_index=IGNORE)


def _check_fields(fields: Mapping[str, Tokenizer]) -> None:
    if not isinstance(fields.get("source"), TextOutput):
        raise ValueError("tagging reads text: task.fields.source must be a text tokenizer (text_bpe or text_char), "
                         f"got {type(fields.get('source')).__name__}")
    tags = {name: tokenizer for name, tokenizer in fields.items() if name != "source"}
    wrong = [name for name, tokenizer in tags.items() if not isinstance(tokenizer, TagTokenizer)]
    if not tags or wrong:
        raise ValueError("tagging needs one or more tag fields besides source, each with the tags tokenizer "
                         f"(task.fields.NAME: {{_target_: tformer.tokenizers.TagTokenizer}}); "
                         + (f"not tags: {', '.join(wrong)}" if wrong else "there are none"))


def _check_alignment(counts: Tensor, lengths: Tensor, name: str) -> None:
    mismatched = (counts.cpu() != lengths.cpu()).nonzero().flatten().tolist()
    if mismatched:
        i = mismatched[0]
        raise ValueError(f"the source tokenizer finds {int(counts[i])} words in batch item {i} where its {name} field "
                         f"has {int(lengths[i])} tags: a text must be its words joined by single spaces "
                         "(TaggedTextDataset writes them so)")
