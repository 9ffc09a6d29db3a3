"""Non-autoregressive text to speech: monotonic alignment search finds the best path that brute
force finds, the forward-sum loss is CTC over the characters as a per-item reference computes
it, the beta-binomial prior sums to one, the length regulator repeats as repeat_interleave, and a
tiny run trains, predicts waveforms as long as its durations say (in decoder steps of r frames)
and reloads alike."""

from __future__ import annotations

import itertools
import math
import shutil

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

import tformer
from tformer.cli import CONFIG_DIR
from tformer.cli.composition import check_composition
from tformer.cli.train import train
from tformer.core import EncoderDecoder
from tformer.tasks import ParallelTextToSpeechTask
from tformer.tasks.alignment import ForwardSum, beta_binomial_prior, monotonic_alignment
from tformer.tasks.tts_parallel import regulate_length
from tformer.tokenizers import Batch, MelTokenizer, TextCharTokenizer
from tests.tiny_checkpoints import tts_overrides

from .conftest import compose_run

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _brute_force_durations(log_probs: torch.Tensor) -> list[int]:
    """The best monotonic path of (T, N) log-probs by trying every split of T frames into N runs."""
    T, N = log_probs.shape
    best, best_score = None, -math.inf
    for cuts in itertools.combinations(range(1, T), N - 1):
        durations = [b - a for a, b in zip((0, *cuts), (*cuts, T))]
        path = torch.repeat_interleave(torch.arange(N), torch.tensor(durations))
        score = float(log_probs[torch.arange(T), path].sum())
        if score > best_score:
            best, best_score = durations, score
    return best


def test_monotonic_alignment_search_finds_the_brute_force_best_path_in_each_padded_item():
    torch.manual_seed(0)
    log_probs = torch.randn(3, 7, 4).log_softmax(-1)
    text_lengths, frame_lengths = torch.tensor([4, 2, 3]), torch.tensor([7, 5, 3])
    durations = monotonic_alignment(log_probs, text_lengths, frame_lengths)
    for i, (n, t) in enumerate(zip(text_lengths.tolist(), frame_lengths.tolist())):
        expected = _brute_force_durations(log_probs[i, :t, :n])
        assert durations[i].tolist() == expected + [0] * (4 - n)


def test_forward_sum_is_ctc_over_the_characters_with_a_fixed_blank_item_by_item():
    torch.manual_seed(0)
    log_probs = torch.randn(2, 6, 3).log_softmax(-1)
    text_lengths, frame_lengths = torch.tensor([3, 2]), torch.tensor([6, 4])
    log_probs[1, :, 2] = -1e4  # item 1's padding
    loss = ForwardSum(blank_log_prob=-1.0)({"alignment": log_probs, "text_lengths": text_lengths,
                                            "step_lengths": frame_lengths}, {})
    per_item = []
    for i, (n, t) in enumerate(zip(text_lengths.tolist(), frame_lengths.tolist())):  # NeMo's loop, one item at a time
        padded = F.pad(log_probs[i, :t, :n], (1, 0), value=-1.0).log_softmax(-1)[:, None]  # (t, 1, 1 + n)
        per_item.append(F.ctc_loss(padded, torch.arange(1, n + 1)[None], [t], [n], reduction="sum") / n)
    torch.testing.assert_close(loss, torch.stack(per_item).mean())


def test_the_beta_binomial_prior_is_a_distribution_over_the_characters_of_each_real_frame():
    prior = beta_binomial_prior(torch.tensor([5, 3]), torch.tensor([9, 4]), 5, 9)  # (2, 9, 5) log-probs
    torch.testing.assert_close(prior[0].exp().sum(-1), torch.ones(9))
    torch.testing.assert_close(prior[1, :4, :3].exp().sum(-1), torch.ones(4))
    assert prior[0, 0].argmax() == 0 and prior[0, -1].argmax() == 4  # the first frame reads the first character
    assert (prior[1, 4:] == 0).all() and (prior[1, :, 3:] == 0).all()


def test_the_length_regulator_repeats_each_state_for_its_frames():
    memory = torch.randn(2, 3, 4)
    durations = torch.tensor([[2, 1, 3], [1, 2, 0]])
    expanded, padding = regulate_length(memory, durations, 6)
    torch.testing.assert_close(expanded[0], memory[0].repeat_interleave(durations[0], 0))
    torch.testing.assert_close(expanded[1, :3], memory[1, :2].repeat_interleave(durations[1, :2], 0))
    assert padding.tolist() == [[False] * 6, [False] * 3 + [True] * 3] and (expanded[1, 3:] == 0).all()


def _model() -> ParallelTextToSpeechTask:
    torch.manual_seed(0)
    text = TextCharTokenizer(d_model=16, alphabet="abcdefghijklmnopqrstuvwxyz ", dropout=0.0)
    mel = MelTokenizer(d_model=16, n_mels=20, reduction=2, prenet_dim=0, dropout=0.0)
    core = EncoderDecoder(16, 2, 1, 2, 32, dropout=0.0)
    return ParallelTextToSpeechTask({"source": text, "target": mel}, core, postnet_channels=8, duration_channels=8,
                                    max_seconds=0.3).eval()


@torch.no_grad()
def test_the_frames_follow_the_durations_and_stop_at_max_seconds():
    task = _model()
    task.duration_predictor.out.bias.fill_(math.log(3.0))  # every character 3 steps of 2 frames
    task.duration_predictor.out.weight.zero_()
    waves = task.predict(["one", "three one four"])
    n_positions = [len(task.source.prepare(s)) for s in ("one", "three one four")]
    frames = [min(3 * 2 * n, 24) for n in n_positions]  # 0.3 s = 24 frames at most
    assert [w.numel() for w in waves] == [(f - 1) * 200 for f in frames]


def test_the_losses_teach_the_aligner_the_durations_and_the_frames():
    task = _model().train()
    text, mel = task.source, task.target
    source = text.collate([text.prepare(s) for s in ("one", "two six")])
    target = Batch(torch.randn(2, 30, 20), torch.tensor([30, 22]))
    total, losses, outputs = task.loss({"source": source, "target": target})
    assert set(losses) == {"frames", "frames_postnet", "forward_sum", "binarization", "durations"}
    assert outputs["durations"].sum(1).tolist() == [15, 11] and losses["binarization"] == 0  # steps of 2 frames; not yet
    assert outputs["frames"].shape == (2, 30, 20) and (outputs["frames_postnet"][1, 22:] == 0).all()
    total.backward()
    assert task.aligner.queries[0].weight.grad.abs().sum() > 0 and task.duration_predictor.out.weight.grad is not None


def test_an_autoregressive_tts_refuses_a_mel_field_without_a_pre_net():
    text = TextCharTokenizer(d_model=16, alphabet="ab ")
    with pytest.raises(ValueError, match="target.prenet_dim must be a width > 0"):
        tformer.tasks.TextToSpeechTask({"source": text, "target": MelTokenizer(d_model=16, prenet_dim=0)},
                                       EncoderDecoder(16, 2, 1, 1, 32))


def test_the_recipes_compose_without_a_pre_net_and_read_the_words_to_write_the_audio():
    for recipe in ("tts_digits_parallel", "tts_sentences_parallel"):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("train", overrides=[f"experiment={recipe}", "run_dir=/tmp/unused"])
        check_composition(cfg)
        assert cfg.task._target_.endswith("ParallelTextToSpeechTask") and cfg.target.prenet_dim == 0
        assert dict(cfg.data.fields) == {"source": "target", "target": "source"}


@needs_espeak
def test_a_tiny_run_predicts_waveforms_and_reloads_alike(tmp_path):
    overrides = [o for o in tts_overrides(tmp_path / "data") if not o.startswith(("task.", "target."))]
    overrides = [o.replace("task=tts", "task=tts_parallel") for o in overrides]
    cfg = compose_run(tmp_path, overrides + ["target.prenet_dim=0", "task.postnet_channels=8", "task.duration_channels=8",
                                             "test=true", "examples=0"])
    task, result = train(cfg)
    assert task.trainer.global_step == 3 and result["test"]["test/mel_l1"] > 0
    waves = task.predict(["one two", "three"])
    assert all(w.dim() == 1 and w.numel() > 0 for w in waves)
    for ours, theirs in zip(waves, tformer.load(result["checkpoint"]).predict(["one two", "three"])):
        torch.testing.assert_close(theirs, ours, atol=0, rtol=0)
