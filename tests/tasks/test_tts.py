"""Text to speech: the cached decoder writes what teacher forcing computes, a tiny run on espeak
clips trains, predicts waveforms, writes WAV files through tformer-predict and reloads alike,
and a prompt outside the text vocabulary is refused naming its characters."""

from __future__ import annotations

import json
import shutil

import pytest
import soundfile
import torch
from hydra import compose, initialize_config_dir

import tformer
from tformer.cli import CONFIG_DIR
from tformer.cli.composition import check_composition
from tformer.cli.predict import predict_file
from tformer.cli.train import train
from tformer.core import EncoderDecoder
from tformer.tasks import GuidedAttention, TextToSpeechTask
from tformer.tasks.objectives import IGNORE
from tformer.tasks.tts import stop_targets
from tformer.tokenizers import Batch, MelTokenizer, TextCharTokenizer
from tests.tiny_checkpoints import tts_overrides

from .conftest import compose_run

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _model(reduction: int = 2) -> TextToSpeechTask:
    torch.manual_seed(0)
    text = TextCharTokenizer(d_model=16, alphabet="abcdefghijklmnopqrstuvwxyz ", dropout=0.0)
    mel = MelTokenizer(d_model=16, n_mels=20, reduction=reduction, prenet_dim=8, prenet_dropout_at_inference=False,
                       dropout=0.0)
    core = EncoderDecoder(16, 2, 1, 2, 32, dropout=0.0)
    return TextToSpeechTask({"source": text, "target": mel}, core, postnet_channels=8, max_seconds=0.3,
                            stop_threshold=1.0).eval()


@pytest.mark.parametrize("reduction", [1, 3])
@torch.no_grad()
def test_cached_decoding_writes_what_teacher_forcing_computes(reduction):
    task = _model(reduction)
    text = task.source
    source = text.collate([text.prepare(s) for s in ("three one four", "two")])
    memory, mask = task.encode(source)
    frames, refined, stop_logits, lengths = task.generate(memory, mask)
    assert frames.shape == (2, 24, 20) and lengths.tolist() == [24, 24]  # 0.3 s = 24 frames, no stop (threshold 1)
    outputs = task({"source": source, "target": Batch(frames, lengths)})  # its own frames as the target
    torch.testing.assert_close(outputs["frames"], frames, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outputs["frames_postnet"], refined, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outputs["stop_logits"], stop_logits, atol=1e-5, rtol=1e-5)


class _StopsRowZero(torch.nn.Module):
    """A stop head sure that row 0 ends at once and row 1 never does."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # hidden: (B, t, d) -> (B, t, 1) logits
        return hidden.new_tensor([20.0, -20.0])[:, None, None].expand(-1, hidden.size(1), 1)


@torch.no_grad()
def test_decoding_stops_at_the_stop_token_and_each_item_keeps_its_own_length():
    task = _model(reduction=2)
    task.hparams.stop_threshold = 0.5
    task.stop_head = _StopsRowZero()
    text = task.source
    source = text.collate([text.prepare(s) for s in ("one", "two")])
    memory, mask = task.encode(source)
    _, _, _, lengths = task.generate(memory, mask)
    assert lengths.tolist() == [2, 24]  # one step of 2 frames; the 0.3 s limit (24 frames)
    waves = task.predict(["one", "two"])  # one batch, in this order
    assert [w.numel() for w in waves] == [(2 - 1) * 200, (24 - 1) * 200]


def test_stop_targets_mark_the_last_step_and_ignore_the_padding():
    targets = stop_targets(torch.tensor([3, 1]), 4)
    assert targets.tolist() == [[0, 0, 1, IGNORE], [1, IGNORE, IGNORE, IGNORE]]


def test_the_losses_are_l1_before_and_after_the_postnet_and_a_weighted_stop_bce():
    task = _model(reduction=2).train()
    text, mel = task.source, task.target
    target = mel.collate([torch.randn(5, 20), torch.randn(3, 20)])
    batch = {"source": text.collate([text.prepare("one two"), text.prepare("six")]), "target": target}
    total, losses, outputs = task.loss(batch)
    keep = torch.arange(5)[None, :] < torch.tensor([5, 3])[:, None]
    expected_l1 = (outputs["frames"] - target.values).abs()[keep].mean()
    torch.testing.assert_close(losses["frames"], expected_l1)
    logits, stops = outputs["stop_logits"], outputs["stop_targets"]  # (2, 3): steps of 2 frames
    assert stops.tolist() == [[0, 0, 1], [0, 1, IGNORE]]
    real = stops != IGNORE
    weights = torch.where(stops[real] == 1, 8.0, 1.0)
    expected_bce = (weights * torch.nn.functional.binary_cross_entropy_with_logits(logits[real], stops[real], reduction="none"))
    torch.testing.assert_close(losses["stop"], expected_bce.mean())
    torch.testing.assert_close(total, losses["frames"] + losses["frames_postnet"] + losses["stop"])


def test_a_prompt_with_characters_outside_the_vocabulary_is_refused_naming_them():
    task = _model()
    with pytest.raises(ValueError, match=r"the text '1 2 three!' has characters outside the text vocabulary: "
                                         r"'1', '2', '!'; the model reads only the characters ' abcdefghijklmnopqrstuvwxyz'"):
        task.predict(["one", "1 2 three!"])


def test_texts_are_not_cut_into_chunks_and_a_chunk_length_is_refused_by_name():
    task = _model()
    with pytest.raises(ValueError, match=r"chunk_seconds=5: TextToSpeechTask cannot predict its .* inputs in chunks"):
        task.predict(["one"], chunk_seconds=5)
    assert task.predict([], chunk_seconds=None) == [] and task.predict([]) == []  # what tformer-predict calls first


def test_a_text_target_or_an_audio_source_is_refused():
    text = TextCharTokenizer(d_model=16, alphabet="ab")
    core = EncoderDecoder(16, 2, 1, 1, 32)
    with pytest.raises(ValueError, match=r"its target must be the mel tokenizer \(target=mel\), got TextCharTokenizer"):
        TextToSpeechTask({"source": text, "target": text}, core)
    with pytest.raises(ValueError, match="its source must be a text tokenizer .* got MelTokenizer"):
        TextToSpeechTask({"source": MelTokenizer(d_model=16), "target": MelTokenizer(d_model=16)}, core)


def test_the_recipes_compose_and_read_the_words_to_write_the_audio():
    for recipe in ("tts_digits", "tts_sentences"):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("train", overrides=[f"experiment={recipe}", "run_dir=/tmp/unused"])
        check_composition(cfg)
        assert cfg.task._target_.endswith("TextToSpeechTask") and cfg.target._target_.endswith("MelTokenizer")
        assert dict(cfg.data.fields) == {"source": "target", "target": "source"} and cfg.model.d_model <= 256


@needs_espeak
def test_a_tiny_run_predicts_waveforms_writes_wavs_and_reloads_alike(tmp_path):
    cfg = compose_run(tmp_path, tts_overrides(tmp_path / "data") + ["test=true", "examples=0"])
    task, result = train(cfg)
    assert task.trainer.global_step == 3 and result["test"]["test/mel_l1"] > 0
    torch.manual_seed(0)  # the pre-net's dropout stays on when predicting
    waves = task.predict(["one two", "three"])
    assert task.sample_rate == 16000 and all(w.dim() == 1 and w.dtype == torch.float32 for w in waves)
    assert [w.numel() for w in waves] == [(40 - 1) * 200] * 2  # 0.5 s of frames, no stop (threshold 1)
    loaded = tformer.load(result["checkpoint"])
    torch.manual_seed(0)
    for ours, theirs in zip(waves, loaded.predict(["one two", "three"])):
        torch.testing.assert_close(theirs, ours, atol=0, rtol=0)
    lines = tmp_path / "lines.txt"
    lines.write_text("one two\n1 2\nthree\n", encoding="utf-8")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        predict_file(compose("predict", overrides=[f"ckpt={result['checkpoint']}", f"input={lines}",
                                                   f"output={tmp_path / 'speech.jsonl'}"]))
    rows = [json.loads(line) for line in (tmp_path / "speech.jsonl").read_text(encoding="utf-8").splitlines()]
    assert "outside the text vocabulary: '1', '2'" in rows[1]["error"]
    for row, number in zip((rows[0], rows[2]), (0, 2)):
        assert row["prediction"] == str(tmp_path / "speech_wav" / f"{number:06d}.wav")
        wave, rate = soundfile.read(row["prediction"], dtype="float32")
        assert rate == 16000 and wave.shape == ((40 - 1) * 200,)


def test_guided_attention_costs_attention_off_the_diagonal_as_its_formula_says():
    objective = GuidedAttention(weight=1.0, sigma=0.4, layers=1, heads=1)
    mask = torch.zeros(1, 4, 3, dtype=torch.bool)
    mask[0, :2, :2] = True  # 2 real steps over 2 real characters
    t, s = torch.meshgrid(torch.arange(2) / 2, torch.arange(2) / 2, indexing="ij")
    expected = 1 - torch.exp(-((s - t) ** 2) / (2 * 0.4**2))
    penalty = objective.penalty(mask)[0]
    torch.testing.assert_close(penalty[:2, :2], expected)
    assert penalty[2:].abs().sum() == 0 and penalty[:, 2].abs().sum() == 0
    diagonal, crossed = torch.zeros(1, 1, 1, 4, 3), torch.zeros(1, 1, 1, 4, 3)
    diagonal[..., 0, 0] = diagonal[..., 1, 1] = 1.0
    crossed[..., 0, 1] = crossed[..., 1, 0] = 1.0
    cost = [float(objective({"cross_attention": w, "cross_attention_mask": mask}, {})) for w in (diagonal, crossed)]
    assert cost[0] == 0.0 and cost[1] == pytest.approx(2 * float(expected[0, 1]) / 4)


def test_the_task_gathers_the_decoders_attention_only_for_an_objective_that_reads_it():
    task = _model(reduction=2).train()
    text, mel = task.source, task.target
    batch = {"source": text.collate([text.prepare("one two"), text.prepare("six")]),
             "target": mel.collate([torch.randn(5, 20), torch.randn(3, 20)])}
    assert "cross_attention" not in task(batch)
    guided = TextToSpeechTask(dict(task.fields), task.core, {"guided": GuidedAttention(layers=2, heads=2)}).train()
    outputs = guided(batch)
    assert outputs["cross_attention"].shape == (2, 2, 2, 3, 7)  # (B, layers, heads, steps, characters)
    assert outputs["cross_attention_mask"][1].sum() == 2 * 3  # 2 steps of "six"'s 3 frames, over 3 characters
    loss, losses, _ = guided.loss(batch)
    assert set(losses) == {"guided"} and 0 < float(loss) < 10


def test_export_names_the_tts_task_it_does_not_write(tmp_path):
    from tformer.export import export_task

    with pytest.raises(ValueError, match=r"the tts task \(a EncoderDecoder core, a MelTokenizer target\) is not supported yet"):
        export_task(_model(), tmp_path / "tts.onnx")
    assert not list(tmp_path.iterdir())


def test_attention_pictures_name_the_tts_task_they_do_not_draw():
    from tformer.plots.weights import attention_for_input

    with pytest.raises(ValueError, match=r"TextToSpeechTask \(a MelTokenizer target\) is not supported yet"):
        attention_for_input(_model(), "one two")


def test_the_baseline_writes_the_mean_training_frame_everywhere():
    from types import SimpleNamespace

    task = _model()
    column = lambda values: SimpleNamespace(column=lambda name: values)  # noqa: E731
    rng = torch.Generator().manual_seed(0)
    clips = [0.1 * torch.randn(n, generator=rng) for n in (1600, 2400, 3200)]
    data = SimpleNamespace(train=column(clips[:2]), test=column(clips[2:]), column_of=lambda field: "source")
    key, value, what = task.trivial_baseline(data)
    mean = torch.cat([task.target.prepare(c) for c in clips[:2]]).mean(0)
    assert key == "test/mel_l1" and what == "every frame the mean training frame"
    assert value == pytest.approx(float((task.target.prepare(clips[2]) - mean).abs().mean()))


def _guided(window) -> TextToSpeechTask:
    task = _model(reduction=2)
    return TextToSpeechTask(dict(task.fields), task.core, {"guided": GuidedAttention(layers=1, heads=1)},
                            postnet_channels=8, max_seconds=0.3, stop_threshold=1.0, attention_window=window).eval()


@torch.no_grad()
def test_an_attention_window_wider_than_the_text_decodes_what_no_window_does():
    text = _model().source
    source = text.collate([text.prepare(s) for s in ("three one four", "two")])
    free, wide = _guided(None), _guided([50, 50])
    wide.load_state_dict(free.state_dict())
    outputs = [task.generate(*task.encode(source)) for task in (free, wide)]
    for a, b in zip(*outputs):
        torch.testing.assert_close(a, b)


@torch.no_grad()
def test_the_guided_head_moves_at_most_the_window_each_step_and_the_others_see_the_whole_text():
    task = _guided([0, 1])
    text = task.source
    source = text.collate([text.prepare(s) for s in ("three one four", "two")])
    memory, src_mask = task.encode(source)
    masks = task.window.masks(torch.tensor([3, 2]), src_mask)
    assert masks[0] is None and masks[1].shape == (2, 2, 1, 14)  # only the last layer is guided; 2 heads
    assert masks[1][0, 0, 0].nonzero().flatten().tolist() == [3, 4]  # its first head: the focus and one ahead
    assert masks[1][1, 0, 0].nonzero().flatten().tolist() == [2]  # "two" ends at position 2
    assert masks[1][:, 1, 0].tolist() == (~src_mask).tolist()  # the second head: every real character
    seen, focus = [], task.window.focus
    task.window.focus = lambda weights: seen.append(focus(weights)) or seen[-1]
    task.generate(memory, src_mask)
    steps = torch.stack([torch.zeros(2, dtype=torch.long)] + seen)  # (steps + 1, B): the focus starts at 0
    moves = steps[1:] - steps[:-1]
    assert len(seen) == 12 and moves.min() >= 0 and moves.max() <= 1
    assert steps[:, 1].max() <= 2  # never past "two"'s last character


def test_an_attention_window_is_refused_without_guided_heads_or_of_the_wrong_shape():
    task = _model()
    with pytest.raises(ValueError, match="task.attention_window.*guided_attention"):
        task.attention_window = [1, 3]
    with pytest.raises(ValueError, match=r"task.attention_window must be \[back, ahead\]"):
        _guided([1, 2, 3])
    with pytest.raises(ValueError, match=r"task.attention_window must be \[back, ahead\]"):
        _guided([1, 0])
    guided = _guided(None)
    guided.attention_window = [1, 3]
    assert guided.attention_window == [1, 3] and guided.window.back == 1 and guided.window.ahead == 3
