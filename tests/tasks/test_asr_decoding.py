"""ASR's joint decoding, as parts: attention beams rescored with the CTC objective's likelihood, or
scored with its prefix probabilities at every step."""

import itertools
import math

import pytest
import torch

from tformer.core import EncoderDecoder, beam_search, beam_search_nbest
from tformer.core.ctc_prefix import CtcPrefixScorer
from tformer.tasks import CTC, CrossEntropy, CtcGreedy, CtcJointBeam, CtcRescoredBeam, Greedy, TranslationTask
from tformer.tokenizers import AudioFbankTokenizer, TextCharTokenizer

D = 16


def _task(generator=None, ctc_weight: float = 0.3) -> TranslationTask:
    torch.manual_seed(0)
    fields = {"source": AudioFbankTokenizer(d_model=D, n_mels=8, conv_channels=4),
              "target": TextCharTokenizer(d_model=D, alphabet="ab")}
    objectives = {"cross_entropy": CrossEntropy(weight=1 - ctc_weight), "ctc": CTC(weight=ctc_weight)}
    return TranslationTask(fields, EncoderDecoder(D, 2, 1, 1, 32), objectives, generator or CtcRescoredBeam(beam_size=3),
                           metrics=["wer"], max_len_offset=0).eval()


def _labellings(log_probs: torch.Tensor, blank: int) -> dict[tuple[int, ...], float]:
    """Every labelling the frames can emit (paths collapsed: repeats merged, blanks dropped), with
    its CTC log-probability, the log sum over its paths (brute force)."""
    totals = {}
    for path in itertools.product(range(log_probs.size(1)), repeat=log_probs.size(0)):
        ids = tuple(p for i, p in enumerate(path) if p != blank and (i == 0 or p != path[i - 1]))
        score = torch.tensor(sum(float(log_probs[t, p]) for t, p in enumerate(path)))
        totals[ids] = float(torch.logaddexp(torch.tensor(totals.get(ids, -math.inf)), score))
    return totals


def _brute_force_ctc(log_probs: torch.Tensor, ids: list[int], blank: int) -> float:
    """log sum over every frame path that collapses to ``ids``; -inf where none does."""
    return _labellings(log_probs, blank).get(tuple(ids), -math.inf)


def _encoded(frames=(4, 3)):
    memory = torch.randn(len(frames), max(frames), D)
    mask = torch.arange(max(frames))[None, :] >= torch.tensor(frames)[:, None]
    return {"memory": memory, "memory_pad_mask": mask}


@torch.no_grad()
def test_ctc_log_likelihood_sums_every_alignment():
    task = _task()
    outputs = _encoded()
    memory, mask = outputs["memory"], outputs["memory_pad_mask"]
    n_best = beam_search_nbest(task.decoding(memory, mask), beam_size=3)
    n_best[1].append(n_best[1][0]._replace(ids=[4, 5, 4, 5]))  # longer than its 3 frames: impossible
    rows = [b for b, hypotheses in enumerate(n_best) for _ in hypotheses]
    scores = iter(task.objectives["ctc"].log_likelihood(outputs, rows, [h.ids for hs in n_best for h in hs]))
    log_probs = task.objectives["ctc"].head(memory).log_softmax(-1)
    for b, hypotheses in enumerate(n_best):
        frames = int((~mask[b]).sum())
        for h in hypotheses:
            score = next(scores)
            expected = _brute_force_ctc(log_probs[b, :frames], h.ids, task.target.pad_id)
            assert score == pytest.approx(expected, abs=1e-4) if expected > -math.inf else score == -math.inf


@torch.no_grad()
@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_search_picks_the_best_joint_score(weight):
    task = _task(CtcRescoredBeam(beam_size=3, ctc_weight=weight))
    outputs = _encoded()
    found = task.search(outputs)
    decoding = task.decoding(outputs["memory"], outputs["memory_pad_mask"])
    if weight == 0.0:
        assert found == beam_search(decoding, beam_size=3)
    n_best = beam_search_nbest(decoding, beam_size=3)
    log_probs = task.objectives["ctc"].head(outputs["memory"]).log_softmax(-1)
    for b, hypotheses in enumerate(n_best):
        frames = int((~outputs["memory_pad_mask"][b]).sum())
        joint = [(1 - weight) * h.log_prob + weight * _brute_force_ctc(log_probs[b, :frames], h.ids, 0) for h in hypotheses]
        assert found[b] == hypotheses[max(range(len(joint)), key=joint.__getitem__)].ids


@torch.no_grad()
def test_the_rescoring_weight_defaults_to_the_ctc_objectives():
    default, explicit = _task(CtcRescoredBeam(beam_size=3), ctc_weight=0.5), _task(CtcRescoredBeam(3, ctc_weight=0.5), 0.5)
    outputs = _encoded()
    assert default.search(outputs) == explicit.search(outputs)


def test_a_rescoring_weight_out_of_range_is_named():
    with pytest.raises(ValueError, match="task.generator.ctc_weight"):
        CtcRescoredBeam(ctc_weight=1.5)


def test_ctc_rescoring_without_a_ctc_objective_is_refused_when_the_task_is_built():
    fields = {"source": AudioFbankTokenizer(d_model=D, n_mels=8, conv_channels=4),
              "target": TextCharTokenizer(d_model=D, alphabet="ab")}
    with pytest.raises(ValueError, match=r"task.generator \(ctc_beam\) needs the objective\(s\) ctc, which the task "
                                         r"does not train \(task.objectives: cross_entropy\)"):
        TranslationTask(fields, EncoderDecoder(D, 2, 1, 1, 32), {"cross_entropy": CrossEntropy()}, CtcRescoredBeam())
    TranslationTask(fields, EncoderDecoder(D, 2, 1, 1, 32), {"cross_entropy": CrossEntropy()}, Greedy())


@torch.no_grad()
def test_ctc_greedy_is_the_collapsed_likeliest_path_and_runs_no_decoder(monkeypatch):
    task = _task(CtcGreedy())
    outputs = _encoded()
    monkeypatch.setattr(task, "decoding", lambda *args, **kwargs: pytest.fail("ctc_greedy drove the decoder"))
    found = task.search(outputs)
    log_probs = task.objectives["ctc"].head(outputs["memory"]).log_softmax(-1)
    for b, frames in enumerate((~outputs["memory_pad_mask"]).sum(1).tolist()):
        paths = itertools.product(range(log_probs.size(-1)), repeat=frames)
        best = max(paths, key=lambda path: sum(float(log_probs[b, t, p]) for t, p in enumerate(path)))
        assert found[b] == [p for i, p in enumerate(best) if p != 0 and (i == 0 or p != best[i - 1])]
    assert task.generator.for_validation() is task.generator  # validation reads the same best path
    assert task.generator.with_beam_size(1) is task.generator
    with pytest.raises(ValueError, match=r"ctc_greedy .* has no beam; for 4 beams .* task/generator=ctc_beam"):
        task.generator.with_beam_size(4)
    assert isinstance(CtcRescoredBeam().for_validation(), Greedy)
    with pytest.raises(ValueError, match=r"task.generator \(ctc_greedy\) needs the objective\(s\) ctc"):
        TranslationTask(dict(task.fields), EncoderDecoder(D, 2, 1, 1, 32), {"cross_entropy": CrossEntropy()}, CtcGreedy())


def test_a_cross_entropy_of_weight_0_is_neither_computed_nor_projected():
    # CTC alone (CRNN's reading): the output layer over the decoder's states is not run
    task = _task(CtcGreedy(), ctc_weight=1.0).train()
    batch = {"source": task.source.collate([torch.randn(40, 8), torch.randn(30, 8)]),
             "target": task.target.collate([task.target.prepare("ab"), task.target.prepare("b")])}
    total, losses, outputs = task.loss(batch)
    assert "logits" not in outputs and list(losses) == ["ctc"]
    assert float(total) == pytest.approx(float(task.objectives["ctc"](outputs, batch)))
    joint = _task(CtcGreedy(), ctc_weight=0.5).train()
    assert "logits" in joint.loss(batch)[2] and sorted(joint.loss(batch)[1]) == ["cross_entropy", "ctc"]


def test_a_generator_that_drives_an_untrained_decoder_is_refused():
    with pytest.raises(ValueError, match=r"task.generator \(ctc_beam\) writes with the decoder, which no objective trains "
                                         r"\(task.objectives: cross_entropy 0, ctc 1\); give cross_entropy a weight above 0, "
                                         r"or choose a generator that reads the encoder alone \(ctc_greedy\)"):
        _task(CtcRescoredBeam(beam_size=3), ctc_weight=1.0)


def _attention_log_prob(task, outputs, b: int, ids: list[int]) -> float:
    """log p_attention(ids, EOS | input b), teacher-forced one step at a time."""
    decoding = task.decoding(outputs["memory"][b : b + 1], outputs["memory_pad_mask"][b : b + 1])
    cache, total, previous = decoding.new_cache(1), 0.0, decoding.prefix
    for token in [*ids, decoding.eos_id]:
        total += float(decoding.step(previous, cache).float().log_softmax(-1)[0, token])
        previous = torch.tensor([[token]])
    return total


@torch.no_grad()
def test_joint_decoding_at_ctc_weight_1_finds_ctcs_likeliest_labelling():
    task = _task(CtcJointBeam(beam_size=6, length_penalty=0.0, ctc_weight=1.0))
    outputs = _encoded()
    found = task.search(outputs)
    log_probs = task.objectives["ctc"].head(outputs["memory"]).log_softmax(-1)
    for b, frames in enumerate((~outputs["memory_pad_mask"]).sum(1).tolist()):
        totals = _labellings(log_probs[b, :frames], task.target.pad_id)
        allowed = {ids: score for ids, score in totals.items() if task.target.eos_id not in ids}
        assert tuple(found[b]) == max(allowed, key=allowed.get)


@torch.no_grad()
def test_joint_decoding_at_ctc_weight_0_is_the_attention_beam():
    task = _task(CtcJointBeam(beam_size=3, ctc_weight=0.0))
    outputs = _encoded()
    assert task.search(outputs) == beam_search(task.decoding(outputs["memory"], outputs["memory_pad_mask"]), 3)


@torch.no_grad()
def test_a_joint_hypothesis_scores_both_models_likelihoods():
    # the prefix scores telescope: a finished hypothesis's log_prob is (1 - λ) · log p_attention + λ · log p_CTC
    task, weight = _task(), 0.4
    task.hparams.max_len_offset = 3  # room for every hypothesis to end with EOS, not at the length limit
    outputs = _encoded()
    memory, mask = outputs["memory"], outputs["memory_pad_mask"]
    ctc, decoding = task.objectives["ctc"], task.decoding(memory, mask)
    scorer = CtcPrefixScorer(ctc.log_probs(memory).transpose(0, 1), (~mask).sum(1), ctc.blank, decoding.eos_id, 3)
    for b, hypotheses in enumerate(beam_search_nbest(decoding, 3, 0.0, scorer, weight)):
        assert hypotheses
        for h in hypotheses:
            expected = (1 - weight) * _attention_log_prob(task, outputs, b, h.ids) + weight * ctc.log_likelihood(outputs, [b], [h.ids])[0]
            assert h.log_prob == pytest.approx(expected, abs=1e-4)


def test_joint_decoding_settings_are_checked():
    with pytest.raises(ValueError, match="task.generator.pre_beam must be at least 1 or null, got 0"):
        CtcJointBeam(pre_beam=0)
    fields = {"source": AudioFbankTokenizer(d_model=D, n_mels=8, conv_channels=4),
              "target": TextCharTokenizer(d_model=D, alphabet="ab"),
              "transcript": TextCharTokenizer(d_model=D, alphabet="ab")}
    objectives = {"cross_entropy": CrossEntropy(weight=0.7), "ctc": CTC(weight=0.3, field="transcript")}
    with pytest.raises(ValueError, match=r"task.generator \(ctc_joint\) scores the decoder's text with the 'ctc' "
                                         r"objective, which transcribes the field 'transcript', not the target; "
                                         r"choose task/generator=beam"):
        TranslationTask(fields, EncoderDecoder(D, 2, 1, 1, 32), objectives, CtcJointBeam())
