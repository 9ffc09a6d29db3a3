"""Losses as parts a task is built from, chosen and weighted in YAML (``task.objectives``).

An objective reads named outputs of the task's forward pass (``logits``, ``memory``, ...) and
fields of the batch, and returns a mean loss; the task adds the objectives up by their weights.
ASR is an encoder-decoder with ``cross_entropy`` (0.7) and ``ctc`` (0.3), not a subclass.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from tformer.core.config import RecordsArguments
from tformer.registry import OBJECTIVES
from tformer.tokenizers import Batch, TextOutput

__all__ = ["Objective", "CrossEntropy", "CTC", "Contrastive", "Regression", "BinaryCrossEntropy", "GuidedAttention",
           "IGNORE"]

IGNORE = -100  # a target position no loss counts (padding), as F.cross_entropy's default


class Objective(RecordsArguments, nn.Module):
    """A weighted loss over named task outputs and batch fields.

    Args:
        weight: its share of the task's loss.
    """

    reads: tuple[str, ...] = ()  # the task outputs it needs (checked when the task is built)

    def __init__(self, weight: float = 1.0):
        super().__init__()
        if weight < 0:
            raise ValueError(f"an objective's weight must be >= 0, got {weight}")
        self.weight = weight

    def bind(self, task: Any) -> None:
        """Make what depends on the task (a head on the core's width and a field's vocabulary)."""

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        raise NotImplementedError


@OBJECTIVES.register("cross_entropy")
class CrossEntropy(Objective):
    """Label-smoothed cross entropy of ``logits`` (..., V) against ``targets`` (...), positions
    at ``IGNORE`` left out; the mean over the rest (tokens, or items for a classifier).

    With ``chunk_size`` it reads the decoder states ``hidden`` (..., d) instead and applies the
    output layer (``project`` of the text field ``field``) and the loss ``chunk_size`` positions at
    a time, recomputing each chunk's logits in the backward pass: a large vocabulary's (tokens x V)
    logits never exist whole, only one chunk's. Same loss; one more output-layer forward pass.

    Args:
        weight: its share of the task's loss.
        label_smoothing: the paper's 0.1 for translation.
        chunk_size: positions per chunk; ``None`` (the default): the task's whole ``logits``.
        field: the text field whose tokenizer projects ``hidden`` to logits (with ``chunk_size``).
    """

    reads = ("logits", "targets")

    def __init__(self, weight: float = 1.0, label_smoothing: float = 0.0, chunk_size: int | None = None,
                 field: str = "target"):
        super().__init__(weight)
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"task.objectives.cross_entropy.chunk_size must be a positive number of positions or "
                             f"null, got {chunk_size}")
        self.label_smoothing, self.chunk_size, self.field = label_smoothing, chunk_size, field
        if chunk_size is not None:
            self.reads = ("hidden", "targets")

    def bind(self, task: Any) -> None:
        if self.chunk_size is None:
            return
        tokenizer = task.fields[self.field] if self.field in task.fields else None
        if not isinstance(tokenizer, TextOutput):
            raise ValueError(f"task.objectives.cross_entropy.field={self.field!r} must name a text field of the task "
                             f"(its tokenizer projects the chunks); its fields: {', '.join(task.fields)}")
        self._project = tokenizer.project  # a method, not a submodule: the task owns the tokenizer

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        if self.chunk_size is not None:
            return self._chunked(outputs["hidden"], outputs["targets"])
        logits, targets = outputs["logits"], outputs["targets"]
        return F.cross_entropy(logits.flatten(0, -2).float(), targets.flatten(), ignore_index=IGNORE,
                               label_smoothing=self.label_smoothing)

    def _chunked(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """(..., d) states, (...) targets -> the mean loss, summed a chunk of real positions at a time."""
        keep = targets.flatten() != IGNORE
        hidden, targets = hidden.flatten(0, -2)[keep], targets.flatten()[keep]  # (N, d), (N,)
        total = hidden.new_zeros((), dtype=torch.float32)
        for h, t in zip(hidden.split(self.chunk_size), targets.split(self.chunk_size)):
            if torch.is_grad_enabled():  # keep h only; the chunk's logits are made again in backward
                total = total + checkpoint(self._chunk_loss, h, t, use_reentrant=False)
            else:
                total = total + self._chunk_loss(h, t)
        return total / targets.numel()

    def _chunk_loss(self, hidden: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(self._project(hidden).float(), targets, reduction="sum",
                               label_smoothing=self.label_smoothing)


@OBJECTIVES.register("ctc")
class CTC(Objective):
    """Connectionist temporal classification of a text field from the encoder's ``memory``
    (Graves et al. 2006), with a linear head of its own; the blank is the field's ``<pad>``.
    Normalized per token plus one per item, as the cross entropy counts the EOS.

    Args:
        weight: its share of the task's loss (0.3 in ESPnet's recipes).
        field: the text field it transcribes.
    """

    reads = ("memory", "memory_pad_mask")

    def __init__(self, weight: float = 0.3, field: str = "target"):
        super().__init__(weight)
        self.field = field

    def bind(self, task: Any) -> None:
        if self.field not in task.fields:
            raise ValueError(f"task.objectives.ctc.field={self.field!r} is not a field of the task; its fields: "
                             f"{', '.join(task.fields)}")
        self.blank = task.fields[self.field].pad_id
        self.head = nn.Linear(task.core.d_model, task.fields[self.field].vocab_size)

    def log_probs(self, memory: Tensor) -> Tensor:
        """(B, T, d) encoder output -> (T, B, V) log-probabilities, in float32 whatever the
        autocast dtype: half precision overflows CTC's sums."""
        return self.head(memory).float().log_softmax(-1).transpose(0, 1)

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        memory, mask, target = outputs["memory"], outputs["memory_pad_mask"], batch[self.field]
        lengths = target.lengths.to(memory.device)
        total = F.ctc_loss(self.log_probs(memory), target.values, (~mask).sum(1), lengths,
                           blank=self.blank, reduction="sum", zero_infinity=True)
        return total / (lengths.sum() + lengths.numel())

    @torch.no_grad()
    def log_likelihood(self, outputs: Mapping[str, Tensor], rows: list[int], ids: list[list[int]]) -> list[float]:
        """log p_CTC(ids[i] | input rows[i]) for each hypothesis (``-inf`` where the input is too short).

        Args:
            outputs: the task's encoder outputs (``memory``, ``memory_pad_mask``) of a batch.
            rows: the batch row each hypothesis transcribes.
            ids: the hypotheses' token ids (no BOS or EOS).
        """
        if not ids:
            return []
        memory, mask = outputs["memory"], outputs["memory_pad_mask"]
        index = torch.tensor(rows, device=memory.device)
        log_probs = self.log_probs(memory).index_select(1, index)  # (T, N, V): a column per hypothesis
        lengths = torch.tensor([len(i) for i in ids], device=memory.device)
        targets = torch.zeros(len(ids), max(1, int(lengths.max())), dtype=torch.long, device=memory.device)
        for row, hypothesis in enumerate(ids):
            targets[row, : len(hypothesis)] = torch.tensor(hypothesis, dtype=torch.long)
        nll = F.ctc_loss(log_probs, targets, (~mask).sum(1).index_select(0, index), lengths,
                         blank=self.blank, reduction="none")
        return (-nll).tolist()

    @torch.no_grad()
    def best_path(self, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        """Greedy CTC transcripts: the likeliest label per frame, repeats merged, blanks dropped."""
        blank = self.blank
        best = self.head(outputs["memory"]).argmax(-1).masked_fill(outputs["memory_pad_mask"], blank).tolist()
        out = []
        for row in best:
            ids, previous = [], blank
            for token in row:
                if token != previous and token != blank:
                    ids.append(token)
                previous = token
            out.append(ids)
        return out


@OBJECTIVES.register("contrastive")
class Contrastive(Objective):
    """In-batch InfoNCE between two embeddings of each item (van den Oord et al. 2018), both
    directions: item i's ``query`` embedding should be nearest its own ``document`` embedding.

    Args:
        weight: its share of the task's loss.
        query: the output ``<query>_embedding`` (B, d).
        document: the output ``<document>_embedding`` (B, d).
        temperature: the softmax temperature over cosine similarities.
        learn_temperature: learn it (as CLIP does), starting from ``temperature``.
    """

    def __init__(self, weight: float = 1.0, query: str = "query", document: str = "document",
                 temperature: float = 0.05, learn_temperature: bool = False):
        super().__init__(weight)
        if temperature <= 0:
            raise ValueError(f"the contrastive temperature must be > 0, got {temperature}")
        self.reads = (f"{query}_embedding", f"{document}_embedding")
        log_t = torch.tensor(float(temperature)).log()
        if learn_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        query, document = (F.normalize(outputs[name].float(), dim=-1) for name in self.reads)
        logits = query @ document.T / self.log_temperature.exp()  # (B, B)
        labels = torch.arange(logits.size(0), device=logits.device)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


@OBJECTIVES.register("regression")
class Regression(Objective):
    """L1 or L2 distance of predicted frames (B, T, D) to a field's frames, over real frames
    (text-to-speech mel frames).

    Args:
        weight: its share of the task's loss.
        output: the task output holding the prediction.
        field: the field holding the reference frames.
        norm: "l1" or "l2".
    """

    def __init__(self, weight: float = 1.0, output: str = "frames", field: str = "target", norm: str = "l1"):
        super().__init__(weight)
        if norm not in ("l1", "l2"):
            raise ValueError(f"task.objectives.regression.norm must be 'l1' or 'l2', got {norm!r}")
        self.reads, self.field, self.norm = (output,), field, norm

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        predicted, reference = outputs[self.reads[0]].float(), batch[self.field]
        target = reference.values.float()
        keep = torch.arange(target.size(1), device=target.device)[None, :] < reference.lengths.to(target.device)[:, None]
        error = (predicted - target).abs() if self.norm == "l1" else (predicted - target) ** 2  # (B, T, D)
        return error[keep].mean()


@OBJECTIVES.register("binary_cross_entropy")
class BinaryCrossEntropy(Objective):
    """Binary cross entropy of ``logits`` (...) against 0/1 ``targets`` (...), positions at
    ``IGNORE`` left out; the mean over the rest. A text-to-speech decoder's stop token: one step
    in each utterance is the last, so the positives get ``pos_weight`` (5-8 in Li et al. 2019).

    Args:
        weight: its share of the task's loss.
        logits: the task output holding the logits.
        targets: the task output holding the targets (0., 1. or IGNORE).
        pos_weight: the weight of a positive target against a negative one.
    """

    def __init__(self, weight: float = 1.0, logits: str = "stop_logits", targets: str = "stop_targets",
                 pos_weight: float = 1.0):
        super().__init__(weight)
        if pos_weight <= 0:
            raise ValueError(f"task.objectives.*.pos_weight must be > 0, got {pos_weight}")
        self.reads, self.pos_weight = (logits, targets), pos_weight

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        logits, targets = (outputs[name].float() for name in self.reads)
        keep = targets != IGNORE
        return F.binary_cross_entropy_with_logits(logits[keep], targets[keep],
                                                  pos_weight=logits.new_tensor(self.pos_weight))


@OBJECTIVES.register("guided_attention")
class GuidedAttention(Objective):
    """Guided attention (Tachibana et al. 2018): the cross-attention weight that output step t
    of T puts on input position s of S, times ``1 - exp(-(s/S - t/T)^2 / (2 sigma^2))``, averaged
    over the real (t, s) pairs. It pulls the alignment of text and speech towards the diagonal,
    which a text-to-speech decoder otherwise finds late (ESPnet applies it to Transformer TTS).

    Args:
        weight: its share of the task's loss (ESPnet: 10).
        sigma: the width of the band around the diagonal that costs nothing (0.4).
        layers: how many of the last decoder layers it guides.
        heads: how many of their first heads it guides.
    """

    reads = ("cross_attention", "cross_attention_mask")

    def __init__(self, weight: float = 10.0, sigma: float = 0.4, layers: int = 2, heads: int = 2):
        super().__init__(weight)
        if sigma <= 0 or layers < 1 or heads < 1:
            raise ValueError(f"task.objectives.guided_attention needs sigma > 0, layers >= 1 and heads >= 1, got "
                             f"{sigma}, {layers}, {heads}")
        self.sigma, self.layers, self.heads = sigma, layers, heads

    def penalty(self, mask: Tensor) -> Tensor:
        """(B, T, S) real pairs -> (B, T, S) the cost of attending there, 0 off the real pairs."""
        steps, positions = mask.any(2).sum(1), mask.any(1).sum(1)  # (B,), (B,)
        t = torch.arange(mask.size(1), device=mask.device)[None, :, None] / steps[:, None, None].clamp(min=1)
        s = torch.arange(mask.size(2), device=mask.device)[None, None, :] / positions[:, None, None].clamp(min=1)
        return (1 - torch.exp(-((s - t) ** 2) / (2 * self.sigma**2))) * mask

    def forward(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Batch]) -> Tensor:
        weights, mask = outputs["cross_attention"], outputs["cross_attention_mask"]  # (B, L, H, T, S), (B, T, S)
        guided = weights[:, -self.layers :, : self.heads].float()  # (B, l, h, T, S)
        cost = guided * self.penalty(mask)[:, None, None]
        return cost.sum() / (mask.sum() * guided.size(1) * guided.size(2)).clamp(min=1)
