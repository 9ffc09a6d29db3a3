"""mel: frames against torchaudio, the decoder inputs (go frame, reduction), Griffin-Lim's length
and how close its waveform comes back to the frames it was made from."""

from __future__ import annotations

import math

import pytest
import torch
import torchaudio

from tformer.tokenizers import MelTokenizer
from tformer.tokenizers.mel import FLOOR


@pytest.fixture
def mel() -> MelTokenizer:
    return MelTokenizer(d_model=16, reduction=3, prenet_dim=8, prenet_dropout_at_inference=False, dropout=0.0).eval()


@pytest.mark.parametrize("rate", [8000, 16000])
def test_frames_are_torchaudios_log_mel_on_a_fixed_scale(mel, sine_wave, rate):
    wave = torch.from_numpy(sine_wave(0.5, rate))
    frames = mel.prepare((wave, rate))
    resampled = torchaudio.functional.resample(wave, rate, 16000) if rate != 16000 else wave
    reference = torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, win_length=800, hop_length=200, n_mels=80,
                                                     power=1.0)(resampled)
    expected = (torch.log(reference.clamp(min=FLOOR)).T + 2.4) / 4.5
    assert frames.shape == (1 + 8000 // 200, 80)
    torch.testing.assert_close(frames, expected, atol=1e-5, rtol=1e-5)


def test_a_louder_clip_gives_higher_frames(mel, sine_wave):
    # The scale is fixed, not per utterance: loudness survives, so frames can become sound again.
    wave = torch.from_numpy(sine_wave(0.3, 16000))
    quiet, loud = mel.prepare(wave * 0.1), mel.prepare(wave)
    above_floor = quiet > (math.log(FLOOR) + 2.4) / 4.5 + 1  # bands with sound in them, clear of the floor
    assert above_floor.float().mean() > 0.3
    difference = (loud - quiet)[above_floor]
    torch.testing.assert_close(difference, torch.full_like(difference, math.log(10) / 4.5), atol=1e-4, rtol=0)


def test_decoder_inputs_are_a_go_frame_then_the_last_frame_of_each_step(mel):
    frames = torch.arange(2 * 7 * 80, dtype=torch.float32).view(2, 7, 80)
    batch = mel.collate([frames[0], frames[1, :4]])
    assert batch.values.shape == (2, 7, 80) and batch.lengths.tolist() == [7, 4]
    inputs = mel.decoder_inputs(batch.values)  # (2, 3, 80): go, frame 2, frame 5 (steps of 3, the last cut short)
    torch.testing.assert_close(inputs[0], torch.stack([torch.zeros(80), frames[0, 2], frames[0, 5]]))
    x, pad_mask = mel(batch.values, batch.lengths)
    assert x.shape == (2, 3, 16) and pad_mask.tolist() == [[False] * 3, [False, False, True]]
    assert mel.steps(batch.lengths).tolist() == [3, 2]


def test_a_step_embeds_as_the_whole_sequence_does_at_its_position(mel):
    frames = torch.randn(2, 9, 80)
    whole, _ = mel(frames, torch.tensor([9, 9]))
    inputs = mel.decoder_inputs(frames)
    for step in range(3):
        torch.testing.assert_close(mel.embed_step(inputs[:, step : step + 1], step), whole[:, step : step + 1])


def test_the_positions_are_scaled_by_a_learned_alpha(mel):
    frames = torch.zeros(1, 6, 80)
    with torch.no_grad():
        before, _ = mel(frames, torch.tensor([6]))
        mel.alpha.fill_(3.0)
        after, _ = mel(frames, torch.tensor([6]))
    content = mel.projection(mel.prenet(torch.zeros(1, 2, 80)))
    torch.testing.assert_close(after - content, 3 * (before - content))


def test_griffin_lim_gives_back_one_hop_per_frame_and_frames_close_to_the_input(mel, sine_wave):
    frames = mel.prepare(torch.from_numpy(sine_wave(0.6, 16000)))  # 49 frames
    wave = mel.to_waveform(frames)
    assert wave.shape == ((frames.size(0) - 1) * 200,) and wave.dtype == torch.float32
    again = mel.prepare(wave)
    assert again.shape == frames.shape
    error = (again - frames)[2:-2].abs().mean()  # the edges lack half a window
    assert error < 0.25 * (frames - frames.mean()).abs().mean()  # 0.17 against 0.89 for a flat spectrum
    assert mel.to_waveform(frames[:2]).shape == (200,)  # shorter than the STFT's padding: padded with silence


def test_the_inverse_filters_are_torchaudios_inverse_mel_scale(mel):
    magnitudes = torch.rand(80, 5) + 0.01
    reference = torchaudio.transforms.InverseMelScale(513, 80, 16000)(magnitudes)
    ours = (mel.spectrogram.inverse_filters @ magnitudes).clamp(min=0)
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-3)


def test_the_prenet_keeps_its_dropout_at_inference_when_told():
    always = MelTokenizer(d_model=16, prenet_dim=8).eval()
    frames = torch.ones(1, 4, 80)
    assert not torch.equal(always.prenet(frames), always.prenet(frames))  # dropout 0.5 in eval mode too
    never = MelTokenizer(d_model=16, prenet_dim=8, prenet_dropout_at_inference=False).eval()
    assert torch.equal(never.prenet(frames), never.prenet(frames))


def test_bad_audio_and_a_bad_reduction_are_named(mel, tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio")
    with pytest.raises(ValueError, match="garbage.wav: cannot read audio"):
        mel.prepare(garbage)
    with pytest.raises(ValueError, match=r"expected a non-empty 1-D .* got \(0,\)"):
        mel.prepare(torch.zeros(0))
    with pytest.raises(ValueError, match="target.reduction .* must be at least 1, got 0"):
        MelTokenizer(d_model=16, reduction=0)
