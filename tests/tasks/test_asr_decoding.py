"""AsrTask's joint decoding: attention beams rescored with the CTC head."""

import itertools
import math

import pytest
import torch

from tformer.tasks.asr import AsrTask
from tformer.core import EncoderDecoder, beam_search, beam_search_nbest
from tformer.tokenizers import AudioFbankTokenizer, TextCharTokenizer

D = 16


def _task(**kwargs) -> AsrTask:
    torch.manual_seed(0)
    source = AudioFbankTokenizer(d_model=D, n_mels=8, conv_channels=4)
    target = TextCharTokenizer(d_model=D, alphabet="ab")
    return AsrTask(source, target, EncoderDecoder(D, 2, 1, 1, 32), max_len_offset=0, **kwargs).eval()


def _brute_force_ctc(log_probs: torch.Tensor, ids: list[int], blank: int) -> float:
    """log sum over every frame path that collapses to ``ids`` (merge repeats, drop blanks)."""
    total = -math.inf
    for path in itertools.product(range(log_probs.size(1)), repeat=log_probs.size(0)):
        collapsed = [p for i, p in enumerate(path) if p != blank and (i == 0 or p != path[i - 1])]
        if collapsed == ids:
            total = float(torch.logaddexp(torch.tensor(total), sum(log_probs[t, p] for t, p in enumerate(path))))
    return total


def _encoded(task: AsrTask, frames=(4, 3)):
    memory = torch.randn(len(frames), max(frames), D)
    mask = torch.arange(max(frames))[None, :] >= torch.tensor(frames)[:, None]
    return memory, mask


@torch.no_grad()
def test_ctc_log_likelihood_sums_every_alignment():
    task = _task()
    memory, mask = _encoded(task)
    n_best = beam_search_nbest(task.decoding(memory, mask), beam_size=3)
    n_best[1].append(n_best[1][0]._replace(ids=[4, 5, 4, 5]))  # longer than its 3 frames: impossible
    scores = task.ctc_log_likelihood(memory, mask, n_best)
    log_probs = task.ctc_head(memory).log_softmax(-1)
    for b, (hypotheses, ctc) in enumerate(zip(n_best, scores)):
        frames = int((~mask[b]).sum())
        for h, score in zip(hypotheses, ctc):
            assert score == pytest.approx(_brute_force_ctc(log_probs[b, :frames], h.ids, task.target.pad_id), abs=1e-4)
    assert scores[1][-1] == -math.inf


@torch.no_grad()
@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_search_picks_the_best_joint_score(weight):
    task = _task(decode_ctc_weight=weight)
    memory, mask = _encoded(task)
    found = task.search(memory, mask, beam_size=3)
    decoding = task.decoding(memory, mask)
    if weight == 0.0:
        assert found == beam_search(decoding, beam_size=3)
    n_best = beam_search_nbest(decoding, beam_size=3)
    log_probs = task.ctc_head(memory).log_softmax(-1)
    for b, hypotheses in enumerate(n_best):
        frames = int((~mask[b]).sum())
        joint = [(1 - weight) * h.log_prob + weight * _brute_force_ctc(log_probs[b, :frames], h.ids, 0) for h in hypotheses]
        assert found[b] == hypotheses[max(range(len(joint)), key=joint.__getitem__)].ids


def test_decode_ctc_weight_out_of_range_is_named():
    with pytest.raises(ValueError, match="task.decode_ctc_weight"):
        _task(decode_ctc_weight=1.5)
