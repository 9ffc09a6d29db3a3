"""Retrieval: a dual encoder gives each query and each document one vector, and a document is
found by cosine similarity (cross-lingual sentence retrieval, question -> passage). One core
serves both sides; an in-batch contrastive loss (InfoNCE) trains it."""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from tformer.core import Encoder
from tformer.data.datasets import INDEX
from tformer.registry import TASKS
from tformer.tokenizers import Batch, Tokenizer

from .base import Task, masked_mean
from .long_inputs import AUTO, chunk_length
from .objectives import Contrastive, Objective
from .ranking import gather_split, ranks_of_pairs, recall_at, top_k

__all__ = ["RetrievalTask"]

SIDES = ("source", "target")  # the query side and the document side
RECALL_AT = (1, 10)
TOO_LONG = ("truncate", "refuse")


@TASKS.register("retrieval")
class RetrievalTask(Task):
    """Dual encoder: ``source`` (queries) and ``target`` (documents) through one core, pooled into one vector each.

    Validation and test rank, for each pair of the whole split, its target among all the
    split's targets (and its source among all sources), gathered across DDP processes, and log
    ``recall1_source_to_target``, ``recall10_source_to_target`` and ``..._target_to_source``.

    Args:
        fields: ``source`` and ``target`` tokenizers (one shared tokenizer with
            ``shared_vocabulary=true``, or one per side).
        core: the shared ``Encoder``.
        objectives: by default ``contrastive`` between ``source_embedding`` and ``target_embedding``
            (InfoNCE both ways, temperature 0.05).
        pooling: ``"mean"`` (over real positions), ``"cls"`` (a class token; the tokenizers must
            have one) or ``"auto"`` (cls where both sides have a class token, mean otherwise).
        max_length: the most tokens ``predict`` reads of an input; None: the tokenizer's
            ``max_len`` where its positions are learned, otherwise no limit.
        too_long: what ``predict`` does with a longer input: ``"truncate"`` (with a warning) or
            ``"refuse"`` (an error naming the input and the limit).
        optimizer, scheduler, predict_batch_size: see ``Task``.
    """

    field_names = SIDES
    input_field = "source"
    token_fields = SIDES  # one core reads both sides
    outputs = tuple(f"{side}_embedding" for side in SIDES)

    def __init__(
        self,
        fields: Mapping[str, Tokenizer],
        core: Encoder,
        objectives: Mapping[str, Objective] | None = None,
        pooling: str = "mean",
        max_length: int | None = None,
        too_long: str = "truncate",
        optimizer=None,
        scheduler=None,
        predict_batch_size: int = 64,
    ):
        if pooling not in ("auto", "cls", "mean"):
            raise ValueError(f"task.pooling must be 'auto', 'cls' or 'mean', got {pooling!r}")
        if too_long not in TOO_LONG:
            raise ValueError(f"task.too_long must be 'truncate' or 'refuse', got {too_long!r}")
        if max_length is not None and max_length < 1:
            raise ValueError(f"task.max_length must be a positive number of tokens or null, got {max_length}")
        with_cls = [getattr(fields.get(side), "cls_token", None) is not None for side in SIDES]
        if pooling == "cls" and not all(with_cls):
            raise ValueError("task.pooling='cls' needs a class token on both sides; "
                             f"{', '.join(s for s, c in zip(SIDES, with_cls) if not c)} has none: use 'mean'")
        super().__init__(fields, core, objectives, optimizer, scheduler, predict_batch_size)
        self.save_hyperparameters(ignore=["fields", "core", "objectives", "optimizer", "scheduler"])
        self.use_cls = pooling == "cls" or (pooling == "auto" and all(with_cls))
        self.max_length, self.too_long = max_length, too_long
        self._seen: dict[str, dict[str, list[Tensor]]] = {}  # stage -> index and embeddings of the batches so far

    def default_objectives(self) -> dict[str, Objective]:
        return {"contrastive": Contrastive(query="source", document="target")}

    def encode(self, side: str, values: Tensor, lengths: Tensor) -> Tensor:
        """Prepared, collated inputs of one side -> (B, d) pooled states (not normalized)."""
        x, pad_mask = self.fields[side](values, lengths)
        h = self.core(x, pad_mask)  # (B, T, d)
        return h[:, 0] if self.use_cls else masked_mean(h, pad_mask)

    def forward(self, batch: Mapping[str, Batch]) -> dict[str, Tensor]:
        return {f"{side}_embedding": self.encode(side, batch[side].values, batch[side].lengths) for side in SIDES}

    # -- evaluation over the whole split --------------------------------------------------------
    def update_metrics(self, stage: str, batch: Mapping[str, Batch], outputs: Mapping[str, Tensor]) -> None:
        seen = self._seen.setdefault(stage, {"index": [], "source": [], "target": []})
        seen["index"].append(batch[INDEX].to(self.device))
        for side in SIDES:
            seen[side].append(outputs[f"{side}_embedding"].detach().float())

    def on_validation_epoch_end(self) -> None:
        self._log_recall("val")

    def on_test_epoch_end(self) -> None:
        self._log_recall("test")

    def _log_recall(self, stage: str) -> None:
        seen = self._seen.pop(stage, None)
        if not seen:
            return
        index, (sources, targets) = gather_split(self, torch.cat(seen["index"]), [torch.cat(seen[s]) for s in SIDES])
        for name, ranks in (("source_to_target", ranks_of_pairs(sources, targets)),
                            ("target_to_source", ranks_of_pairs(targets, sources))):
            for k in RECALL_AT:
                self.log(f"{stage}/recall{k}_{name}", recall_at(ranks, k), prog_bar=k == 1 and name == "source_to_target")

    def infer(self, batch: Mapping[str, Batch]) -> list[Tensor]:
        side = next(s for s in SIDES if s in batch)
        return list(F.normalize(self.encode(side, batch[side].values, batch[side].lengths).float(), dim=-1).cpu())

    # -- prediction ----------------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, texts: Sequence[Any], side: str = "source") -> Tensor:
        """Raw inputs of one side -> (N, d) unit-length embeddings, in order (cosine = dot product).

        An empty input is an error naming it; one longer than ``max_length`` tokens is truncated
        with a warning or refused (``too_long``).
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("embed takes a list of inputs; wrap a single input in a list")
        if side not in SIDES:
            raise ValueError(f"side must be 'source' (queries) or 'target' (documents), got {side!r}")
        tokenizer = self.fields[side]
        prepared = [self._within_limit(tokenizer, tokenizer.prepare(text), i, text, side) for i, text in enumerate(texts)]
        out = torch.zeros(len(texts), self.core.d_model)
        was_training = self.training
        self.eval()
        try:
            order = sorted(range(len(texts)), key=lambda i: tokenizer.size(prepared[i]))
            for start in range(0, len(order), self.predict_batch_size):
                chunk = order[start : start + self.predict_batch_size]
                batch = {side: tokenizer.collate([prepared[i] for i in chunk]).to(self.device)}
                out[chunk] = torch.stack(self.infer(batch))
        finally:
            self.train(was_training)
        return out

    def _within_limit(self, tokenizer: Tokenizer, tensor: Tensor, i: int, text: Any, side: str) -> Tensor:
        size = tokenizer.size(tensor)
        if size == 0:
            raise ValueError(f"{side} {i} ({str(text)[:60]!r}) is empty; there is nothing to embed")
        limit = self.max_length or tokenizer.max_positions
        if limit is None or size <= limit:
            return tensor
        what = f"{side} {i} ({str(text)[:60]!r}) has {size} tokens, more than the {limit} the model reads"
        if self.too_long == "refuse":
            raise ValueError(f"{what} (task.max_length); shorten it, or set task.too_long=truncate")
        warnings.warn(f"{what}: only its first {limit} are embedded (task.too_long=refuse refuses it instead)", stacklevel=3)
        return tensor[:limit]

    @torch.no_grad()
    def predict(self, inputs: Sequence[Any], chunk_seconds: float | str | None = AUTO, side: str = "source") -> list[Tensor]:
        """Raw inputs -> one unit-length embedding (d,) per input, in order (see ``embed``)."""
        chunk_length(self, chunk_seconds)  # no chunks: a number of seconds is refused by name
        return list(self.embed(inputs, side))

    def search(self, queries: Sequence[Any], documents: Sequence[Any], k: int = 10) -> list[list[dict[str, Any]]]:
        """The ``k`` documents nearest each query, best first.

        Args:
            queries: raw inputs of the source side (e.g. German sentences).
            documents: raw inputs of the target side to search (e.g. English sentences).
            k: how many to return per query (at most ``len(documents)``).
        Returns:
            Per query, ``[{"index": i, "document": documents[i], "score": cosine}, ...]``.
        """
        found = top_k(self.embed(queries, "source"), self.embed(documents, "target"), k)
        return [[{"index": i, "document": documents[i], "score": score} for i, score in hits] for hits in found]

    def written_prediction(self, prediction: Any, index: int, output: Any) -> Any:
        """An embedding as a list of floats."""
        return [round(float(x), 6) for x in prediction]

    def trivial_baseline(self, data: Any) -> tuple[str, float, str] | None:
        """A random ranking: recall@1 is one over the number of test pairs."""
        n = len(data.test)
        return ("test/recall1_source_to_target", 1 / n, "a random order of the documents") if n else None
