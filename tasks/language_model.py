"""Causal language modelling over one text field with a decoder-only core (GPT's shape from the
paper's decoder layers without cross-attention): perplexity, and continuations of prompts."""

from __future__ import annotations

import math
from collections import Counter
from itertools import groupby
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor
from torchmetrics.text import Perplexity

from tformer.core import Decoder, decoder_only_decoding
from tformer.flops import training_flops
from tformer.registry import TASKS
from tformer.tokenizers import Batch, TextOutput, Tokenizer

from .base import Task
from .generators import Generator, Sampling
from .long_inputs import AUTO, chunk_length
from .objectives import IGNORE, CrossEntropy, Objective
from .translation import shift_target

__all__ = ["LanguageModelTask"]


@TASKS.register("language_model")
class LanguageModelTask(Task):
    """Predict each token of ``text`` from the ones before it; ``predict`` continues prompts.

    Args:
        fields: ``text``, a text tokenizer (its embedding is tied to the output layer).
        core: a ``Decoder`` built with ``cross_attention=False``.
        objectives: by default cross entropy without label smoothing (perplexity stays exact).
        generator: what continues a prompt (default: sampling at temperature 0.8 from the top 40).
        max_new_tokens: the longest continuation.
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    field_names = ("text",)
    input_field = "text"
    outputs = ("logits", "hidden", "targets")

    def __init__(
        self,
        fields: Mapping[str, Tokenizer],
        core: Decoder,
        objectives: Mapping[str, Objective] | None = None,
        generator: Generator | None = None,
        max_new_tokens: int = 64,
        optimizer=None,
        scheduler=None,
        predict_batch_size: int = 32,
    ):
        if not isinstance(fields.get("text"), TextOutput):
            raise ValueError("a language model writes text: its text field must be a text tokenizer (target=text_bpe "
                             f"or text_char), got {type(fields.get('text')).__name__}")
        if not isinstance(core, Decoder) or core.cross_attention:
            raise ValueError("a language model's core is a decoder without cross-attention: "
                             "tformer.core.Decoder with cross_attention: false (conf/task/language_model.yaml)")
        if max_new_tokens < 1:
            raise ValueError(f"task.max_new_tokens must be at least 1, got {max_new_tokens}")
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        self.generator = generator if generator is not None else Sampling(temperature=0.8, top_k=40)
        self.generator.check(self)
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "generator", "optimizer", "scheduler"])
        self.perplexity = torch.nn.ModuleDict({stage: Perplexity(ignore_index=IGNORE) for stage in ("val", "test")})

    def default_objectives(self) -> dict[str, Objective]:
        return {"cross_entropy": CrossEntropy()}

    @property
    def text(self) -> TextOutput:
        return self.fields["text"]

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        inputs, lengths, gold = shift_target(batch["text"], self.text)  # <bos> y -> y <eos>
        x, pad_mask = self.text(inputs, lengths)
        # right-padded: the causal mask keeps real positions off the padding, unless the core packs them
        hidden = self.core(x, pad_mask=pad_mask if self.core.uses_pad_mask else None)
        if "logits" in self.read_outputs or not self.training:  # perplexity reads them too
            return {"logits": self.text.project(hidden), "hidden": hidden, "targets": gold}
        return {"hidden": hidden, "targets": gold}  # a chunked cross entropy projects them itself

    def loss_weight(self, batch: Mapping[str, Batch]) -> int:
        text = batch["text"]
        return int(text.lengths.sum()) + text.lengths.numel()  # tokens plus one EOS each

    def flops(self, batch: Mapping[str, Batch]) -> Tensor:
        """The decoder and the output layer for each ``<bos> y`` position."""
        lengths = batch["text"].lengths + 1
        parameters = self.count_parameters(self.core) + self.text.projection_parameters()
        return self.text.front_end_flops(lengths) + training_flops((parameters, lengths.sum()))

    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        metric = self.perplexity[stage]
        metric.update(outputs["logits"].float(), outputs["targets"])
        self.log(f"{stage}/ppl", metric, prog_bar=True, batch_size=self.loss_weight(batch))

    # -- continuing prompts ----------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, inputs: Sequence[str], chunk_seconds: float | str | None = AUTO) -> list[str]:
        """Prompts -> their continuations (without the prompt); an empty prompt starts a text.
        Prompts are never cut into chunks (``chunk_seconds`` other than "auto" or None is an error)."""
        if isinstance(inputs, (str, bytes)):
            raise TypeError("predict takes a list of prompts; wrap a single prompt in a list")
        chunk_length(self, chunk_seconds)
        was_training = self.training
        self.eval()
        try:
            prompts = [self.text.prepare(prompt) for prompt in inputs]
            results: list[str] = [""] * len(prompts)
            # Rows of one batch continue from prefixes of one length (the cache has no padding).
            order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
            for _, same in groupby(order, key=lambda i: len(prompts[i])):
                same = list(same)
                for start in range(0, len(same), self.predict_batch_size):
                    chunk = same[start : start + self.predict_batch_size]
                    for i, text in zip(chunk, self.continue_prompts(torch.stack([prompts[i] for i in chunk]))):
                        results[i] = text
        finally:
            self.train(was_training)
        return results

    def continue_prompts(self, prompts: Tensor) -> list[str]:
        """(B, P) prompt ids, P the same for every row -> the generated continuations."""
        prompts = prompts.to(self.device)
        bos = prompts.new_full((prompts.size(0), 1), self.text.bos_id)
        prefix = torch.cat([bos, prompts], 1)
        limit = self.hparams.max_new_tokens
        if self.text.max_positions is not None:  # learned positions end there
            limit = min(limit, self.text.max_positions - prefix.size(1))
        if limit < 1:
            raise ValueError(f"a prompt of {prompts.size(1)} tokens leaves no room for a continuation within the "
                             f"{self.text.max_positions} learned positions (max_len)")
        decoding = decoder_only_decoding(self.core, prefix, self.text.embed_step, self.text.project, self.text.eos_id, limit,
                                         **self.generator.decoding_options())
        generated = self.generator.generate(self, decoding, {})
        return [self._continuation(row.tolist(), ids) for row, ids in zip(prompts, generated)]

    def _continuation(self, prompt: list[int], ids: list[int]) -> str:
        """The text ``ids`` add to ``prompt``, with the space between them where a new word starts
        (decoding the continuation alone drops it: "Once upon a" + "time")."""
        before, whole = self.text.decode(prompt), self.text.decode(prompt + ids)
        return whole[len(before):] if whole.startswith(before) else self.text.decode(ids)

    def example_input(self, raw: str) -> str:
        """A test text's first three words, as a prompt."""
        return " ".join(raw.split()[:3])

    def infer(self, batch: Mapping[str, Batch]) -> list[str]:
        text = batch["text"]
        return self.continue_prompts(text.values[:, : int(text.lengths.min())])

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """The perplexity of a unigram model: each token as often as in the training texts (add-one)."""
        column = data.column_of("text")
        eos = self.text.eos_id
        counts = Counter(eos for _ in data.train.column(column))
        for text in data.train.column(column):
            counts.update(self.text.prepare(text).tolist())
        total, vocab = sum(counts.values()), self.text.vocab_size
        nll, n = 0.0, 0
        for text in data.test.column(column):
            for token in self.text.prepare(text).tolist() + [eos]:
                nll -= math.log((counts[token] + 1) / (total + vocab))
                n += 1
        return "test/ppl", math.exp(nll / max(n, 1)), "a unigram model of the training tokens"
