"""Decoders of a task's outputs as parts chosen in YAML (``task.generator``): greedy, beam search
with a length penalty, beam search rescored with or jointly scored by a CTC objective, sampling,
and the best path of a CTC objective alone.

Each but the last drives the task's ``Decoding`` (one ``step(tokens, cache) -> logits`` callable,
see ``tformer.core.decoding``); all return token ids per input, without the prefix and EOS.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor

from tformer.core import Decoding, beam_search, beam_search_nbest, greedy_search, sample
from tformer.core.ctc_prefix import CtcPrefixScorer
from tformer.core.config import RecordsArguments
from tformer.registry import GENERATORS

__all__ = ["Generator", "Greedy", "Beam", "CtcRescoredBeam", "CtcJointBeam", "CtcGreedy", "Sampling"]


class Generator(RecordsArguments):
    """Turns a task's ``Decoding`` into token ids; ``needs`` names the objectives it uses.

    Every generator also takes ``static_cache`` (self-attention caches of a fixed length: each
    step the same shapes) and ``compiled`` (the steps through ``torch.compile``; on CUDA captured
    once as a CUDA graph and replayed): the task builds its ``Decoding`` with them.
    """

    needs: tuple[str, ...] = ()
    drives_decoder = True  # False: reads the encoder's outputs alone (the task builds no Decoding)
    static_cache: bool = False
    compiled: bool = False

    def _steps(self, static_cache: bool, compiled: bool) -> None:
        self.static_cache, self.compiled = bool(static_cache or compiled), bool(compiled)

    def decoding_options(self) -> dict[str, bool]:
        """How the task builds the ``Decoding`` this generator drives (``encoder_decoder_decoding``)."""
        return {"static": self.static_cache, "compiled": self.compiled}

    def check(self, task: Any, key: str = "task.generator") -> None:
        """Refuse, when the task is built, a generator that needs an objective the task lacks."""
        missing = [name for name in self.needs if name not in task.objectives]
        if missing:
            raise ValueError(f"{key} ({GENERATORS.name_of(self)}) needs the objective(s) {', '.join(missing)}, which "
                             f"the task does not train (task.objectives: {', '.join(task.objectives) or 'none'}); "
                             f"add it, or choose another generator: {', '.join(GENERATORS.names())}")
        trained = getattr(task, "read_outputs", None)  # the task's outputs its weighted objectives read, once built
        if self.drives_decoder and trained is not None and not trained & {"logits", "hidden"}:
            weights = ", ".join(f"{name} {objective.weight:g}" for name, objective in task.objectives.items())
            readers = [name for name in GENERATORS.names() if not getattr(GENERATORS.get(name), "drives_decoder", True)]
            raise ValueError(f"{key} ({GENERATORS.name_of(self)}) writes with the decoder, which no objective trains "
                             f"(task.objectives: {weights}); give cross_entropy a weight above 0, or choose a generator "
                             f"that reads the encoder alone ({', '.join(readers)})")

    def generate(self, task: Any, decoding: Decoding, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        """Token ids per input row.

        Args:
            task: the task (its objectives can score hypotheses).
            decoding: what to drive.
            outputs: the task's encoder outputs for the batch (``memory``, ...).
        """
        raise NotImplementedError

    def with_beam_size(self, beam_size: int) -> "Generator":
        """This generator searching ``beam_size`` beams (``tformer-predict beam_size=N``)."""
        raise ValueError(f"the {GENERATORS.name_of(self)} generator has no beam to resize")

    def for_validation(self) -> "Generator":
        """What decodes validation batches: greedy through the decoder, or this generator where it
        needs no decoder (it is already as cheap)."""
        return self if not self.drives_decoder else Greedy()


@GENERATORS.register("greedy")
class Greedy(Generator):
    """The most likely token at each step.

    Args:
        static_cache, compiled: see ``Generator``.
    """

    def __init__(self, static_cache: bool = False, compiled: bool = False):
        self._steps(static_cache, compiled)

    def generate(self, task: Any, decoding: Decoding, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        return greedy_search(decoding)

    def with_beam_size(self, beam_size: int) -> Generator:
        return self if beam_size == 1 else Beam(beam_size, static_cache=self.static_cache, compiled=self.compiled)


@GENERATORS.register("beam")
class Beam(Generator):
    """Beam search; finished hypotheses ranked by log-probability / GNMT length penalty.

    Args:
        beam_size: beams per input (1 is greedy).
        length_penalty: GNMT alpha (0.6 in the paper's setting).
        static_cache, compiled: see ``Generator``.
    """

    def __init__(self, beam_size: int = 4, length_penalty: float = 0.6, static_cache: bool = False,
                 compiled: bool = False):
        if beam_size < 1:
            raise ValueError(f"task.generator.beam_size must be at least 1, got {beam_size}")
        self.beam_size, self.length_penalty = beam_size, length_penalty
        self._steps(static_cache, compiled)

    def generate(self, task: Any, decoding: Decoding, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        if self.beam_size == 1:
            return greedy_search(decoding)
        return beam_search(decoding, self.beam_size, self.length_penalty)

    def with_beam_size(self, beam_size: int) -> Generator:
        return type(self)(**{**self.init_kwargs, "beam_size": beam_size})


@GENERATORS.register("ctc_beam")
class CtcRescoredBeam(Beam):
    """Beam search whose finished hypotheses are rescored with a CTC objective's likelihood,
    ``(1 - λ) · log p_attention + λ · log p_CTC``, which rejects hypotheses whose length or words
    the input does not support (dropped or repeated words; Watanabe et al. 2017).

    Args:
        beam_size: beams per input (1: greedy, no rescoring).
        length_penalty: GNMT alpha.
        ctc_weight: λ; ``None`` takes the CTC objective's training weight, 0 attention alone.
        objective: the name of the task's CTC objective.
        static_cache, compiled: see ``Generator``.
    """

    def __init__(self, beam_size: int = 4, length_penalty: float = 0.6, ctc_weight: float | None = None,
                 objective: str = "ctc", static_cache: bool = False, compiled: bool = False):
        super().__init__(beam_size, length_penalty, static_cache, compiled)
        if ctc_weight is not None and not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"task.generator.ctc_weight must be within [0, 1] or null, got {ctc_weight}")
        self.ctc_weight, self.objective = ctc_weight, objective
        self.needs = (objective,)

    def check(self, task: Any, key: str = "task.generator") -> None:
        super().check(task, key)
        field = getattr(task.objectives[self.objective], "field", "target")
        if field != "target":
            raise ValueError(f"{key} ({GENERATORS.name_of(self)}) scores the decoder's text with the {self.objective!r} "
                             f"objective, which transcribes the field {field!r}, not the target; choose "
                             f"task/generator=beam (speech translation: CTC on the transcript trains, it cannot score)")

    def resolved_weight(self, ctc: Any) -> float:
        """λ: ``ctc_weight``, or the CTC objective's training weight where it is ``None``."""
        return ctc.weight if self.ctc_weight is None else self.ctc_weight

    def generate(self, task: Any, decoding: Decoding, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        ctc = task.objectives[self.objective]
        weight = self.resolved_weight(ctc)
        if self.beam_size == 1 or weight == 0.0:
            return super().generate(task, decoding, outputs)
        n_best = beam_search_nbest(decoding, self.beam_size, self.length_penalty)
        rows = [b for b, hypotheses in enumerate(n_best) for _ in hypotheses]
        ctc_scores = iter(ctc.log_likelihood(outputs, rows, [h.ids for hs in n_best for h in hs]))
        best = []
        for hypotheses in n_best:
            scores = [(1 - weight) * h.log_prob + weight * next(ctc_scores) for h in hypotheses]
            best.append(hypotheses[max(range(len(scores)), key=scores.__getitem__)].ids if hypotheses else [])
        return best


@GENERATORS.register("ctc_joint")
class CtcJointBeam(CtcRescoredBeam):
    """Joint CTC/attention decoding (Watanabe et al. 2017; ESPnet's default): every step of the
    beam adds a CTC objective's prefix score to the decoder's, ``(1 - λ) · log p_attention +
    λ · log p_CTC-prefix``, so that no hypothesis ends before CTC has spent the input's frames
    and none repeats what the frames do not hold. Where an input is unlike the training data
    (a person's voice after synthetic ones), the decoder alone tends to stop early; this keeps
    the search where CTC's alignment allows.

    Args:
        beam_size: beams per input (1 still scores with CTC).
        length_penalty: GNMT alpha.
        ctc_weight: λ; ``None`` takes the CTC objective's training weight, 0 attention alone.
        pre_beam: the decoder's best tokens per hypothesis (plus EOS) that CTC scores (ESPnet
            takes 1.5 · beam_size); ``None`` scores the whole vocabulary, whose cost grows with
            frames × hypotheses × vocabulary at every step.
        objective: the name of the task's CTC objective.
        static_cache, compiled: see ``Generator``.
    """

    def __init__(self, beam_size: int = 4, length_penalty: float = 0.6, ctc_weight: float | None = None,
                 pre_beam: int | None = 16, objective: str = "ctc", static_cache: bool = False,
                 compiled: bool = False):
        super().__init__(beam_size, length_penalty, ctc_weight, objective, static_cache, compiled)
        if pre_beam is not None and pre_beam < 1:
            raise ValueError(f"task.generator.pre_beam must be at least 1 or null, got {pre_beam}")
        self.pre_beam = pre_beam

    def generate(self, task: Any, decoding: Decoding, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        ctc = task.objectives[self.objective]
        weight = self.resolved_weight(ctc)
        if weight == 0.0:
            return Beam.generate(self, task, decoding, outputs)
        memory, mask = outputs["memory"], outputs["memory_pad_mask"]
        scorer = CtcPrefixScorer(ctc.log_probs(memory).transpose(0, 1), (~mask).sum(1), ctc.blank,
                                 decoding.eos_id, self.beam_size)
        return beam_search(decoding, self.beam_size, self.length_penalty, scorer, weight, self.pre_beam)


@GENERATORS.register("ctc_greedy")
class CtcGreedy(Generator):
    """The best path of a CTC objective's head: the likeliest label per encoder frame, repeats
    merged and blanks dropped (CRNN, CTC ASR models). No decoder runs: one matrix product per
    input, whatever the output's length.

    Args:
        objective: the name of the task's CTC objective.
    """

    drives_decoder = False

    def __init__(self, objective: str = "ctc"):
        self.objective = objective
        self.needs = (objective,)

    def generate(self, task: Any, decoding: Decoding | None, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        return task.objectives[self.objective].best_path(outputs)

    def with_beam_size(self, beam_size: int) -> Generator:
        if beam_size == 1:
            return self
        raise ValueError(f"the ctc_greedy generator reads one best path and has no beam; for {beam_size} beams "
                         "train with a decoder and choose task/generator=ctc_beam")


@GENERATORS.register("sampling")
class Sampling(Generator):
    """Each token drawn from the model's distribution, sharpened by ``temperature`` and cut to
    the ``top_k`` likeliest or the smallest set holding ``top_p`` of the probability.

    Args:
        temperature: below 1 sharper, above 1 flatter; 0 is greedy.
        top_k: keep the k likeliest tokens (None: all).
        top_p: keep the likeliest tokens whose probabilities sum to p (None: all).
        seed: the seed of the draws; None draws from torch's global generator.
        static_cache, compiled: see ``Generator``.
    """

    def __init__(self, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 seed: int | None = None, static_cache: bool = False, compiled: bool = False):
        self._steps(static_cache, compiled)
        if temperature < 0 or (top_k is not None and top_k < 1) or (top_p is not None and not 0 < top_p <= 1):
            raise ValueError(f"task.generator needs temperature >= 0, top_k >= 1 and 0 < top_p <= 1, got "
                             f"{temperature}, {top_k}, {top_p}")
        self.temperature, self.top_k, self.top_p, self.seed = temperature, top_k, top_p, seed

    def generate(self, task: Any, decoding: Decoding, outputs: Mapping[str, Tensor]) -> list[list[int]]:
        draws = None
        if self.seed is not None:
            draws = torch.Generator(device=decoding.prefix.device).manual_seed(self.seed)
        return sample(decoding, self.temperature, self.top_k, self.top_p, draws)
