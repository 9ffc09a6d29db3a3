"""audio_fbank: features against torchaudio, bad files, subsampling arithmetic, SpecAugment."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

from tformer.tokenizers import AudioFbankTokenizer
from tformer.tokenizers.audio import Conv2dSubsampling


@pytest.fixture
def audio() -> AudioFbankTokenizer:
    return AudioFbankTokenizer(d_model=16, conv_channels=8).eval()


def _reference(path) -> torch.Tensor:
    data, rate = soundfile.read(path, dtype="float32")
    wave = torchaudio.functional.resample(torch.from_numpy(data).mean(dim=1), rate, 16000)
    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=80)(wave)
    log_mel = torch.log(mel + 1e-6).T  # (T, 80)
    return (log_mel - log_mel.mean(dim=0)) / (log_mel.std(dim=0, unbiased=False) + 1e-5)


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_features_match_torchaudio(audio, wav_path, rate):
    path = wav_path(0.5, rate)
    features = audio.prepare(path)
    assert features.shape == (1 + 8000 // 160, 80) and audio.size(features) == 51
    torch.testing.assert_close(features, _reference(path), atol=1e-4, rtol=1e-4)


def test_waveform_inputs_match_the_file(audio, wav_path, sine_wave):
    path = wav_path(0.4, 16000, name="clip.flac", fmt="FLAC")
    from_file = audio.prepare(path)
    data, _ = soundfile.read(path, dtype="float32")
    torch.testing.assert_close(audio.prepare((torch.from_numpy(data.T), 16000)), from_file)  # (channels, samples)
    torch.testing.assert_close(audio.prepare(torch.from_numpy(data.mean(axis=1))), from_file)
    assert audio.prepare((sine_wave(0.4, 8000), 8000)).shape == from_file.shape


def test_unreadable_empty_and_missing_files_are_named(audio, tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all")
    with pytest.raises(ValueError, match="garbage.wav: cannot read audio"):
        audio.prepare(garbage)
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(ValueError, match="empty.wav: audio file is empty"):
        audio.prepare(empty)
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    with pytest.raises(ValueError, match="zero.wav"):
        audio.prepare(zero_bytes)
    with pytest.raises(ValueError, match="missing.wav"):
        audio.prepare(tmp_path / "missing.wav")


def test_too_short_clip_names_file_and_minimum(audio, wav_path):
    with pytest.raises(ValueError, match=r"short.wav: 0\.030 s is too short.*0\.060 s"):
        audio.prepare(wav_path(0.03, 16000, name="short.wav"))
    assert audio.prepare(wav_path(0.06, 16000, name="ok.wav")).shape[0] == 7


def test_subsampled_lengths_follow_the_convolutions():
    layer = Conv2dSubsampling(n_mels=20, d_model=8, channels=4)
    for length in range(7, 40):
        assert layer(torch.randn(1, length, 20)).shape[1] == Conv2dSubsampling.output_length(length)
    lengths = torch.arange(7, 40)
    assert Conv2dSubsampling.output_length(lengths).tolist() == [Conv2dSubsampling.output_length(n) for n in range(7, 40)]


def test_spec_augment_only_in_training_and_within_length():
    audio = AudioFbankTokenizer(d_model=16, n_mels=40, conv_channels=8, freq_mask=10, time_mask=0.2, dropout=0.0)
    values, lengths = torch.randn(2, 60, 40), torch.tensor([60, 35])
    values[1, 35:] = 0
    audio.eval()
    torch.testing.assert_close(audio(values, lengths)[0], audio(values, lengths)[0])
    augmented = audio._augment(values, lengths)
    assert (augmented == 0).sum() > (values == 0).sum()  # masks set some frames/bands to 0
    assert torch.equal(augmented[1, 35:], values[1, 35:])
    audio.train()
    assert not torch.allclose(audio(values, lengths)[0], audio.eval()(values, lengths)[0])
    off = AudioFbankTokenizer(d_model=16, n_mels=40, conv_channels=8, spec_augment=False, dropout=0.0).train()
    torch.testing.assert_close(off(values, lengths)[0], off.eval()(values, lengths)[0])
