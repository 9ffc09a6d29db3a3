"""Waveform augmentation against formulas and torchaudio, and only on the training split."""

import math
import pickle

import pytest
import torch
import torchaudio.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from tformer.cli import CONFIG_DIR
from tformer.data import DataModule, RawDataset
from tformer.data.augment import (
    AddNoise, Augmentations, PitchShift, Reverberation, SpeedPerturbation, Tempo, TelephoneBand, room_impulse,
)
from tformer.tokenizers.audio import AudioFbankTokenizer

from .standins import CharIds

RATE = 16000


def _sine(hz=440.0, seconds=1.0):
    return torch.sin(2 * math.pi * hz * torch.arange(round(seconds * RATE)) / RATE)


def _peak_hz(wave):
    spectrum = torch.fft.rfft(wave * torch.hann_window(wave.numel()), n=2**18).abs()
    return spectrum.argmax().item() * RATE / 2**18


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_speed_perturbation_is_torchaudios_speed_and_divides_the_length():
    wave = torch.randn(RATE, generator=_generator())
    out = SpeedPerturbation(factors=[1.1])(wave, RATE, _generator())
    assert torch.allclose(out, F.speed(wave, RATE, 1.1)[0], atol=1e-5)
    assert abs(out.numel() - RATE / 1.1) <= 1
    assert _peak_hz(SpeedPerturbation(factors=[1.1])(_sine(), RATE)) == pytest.approx(440 * 1.1, rel=0.005)


def test_tempo_changes_the_length_and_keeps_the_pitch():
    for factor in (0.8, 1.25):
        out = Tempo(low=factor, high=factor)(_sine(), RATE, _generator())
        assert out.numel() == round(RATE / factor)
        assert _peak_hz(out) == pytest.approx(440, rel=0.005)


def test_pitch_shift_moves_the_frequency_by_semitones_and_keeps_the_length():
    for semitones in (-3, 2):
        out = PitchShift(semitones=[semitones])(_sine(), RATE, _generator())
        assert abs(out.numel() - RATE) <= 0.01 * RATE
        # the speed ratio is rounded to 100 Hz of 16 kHz: within 0.6 % of the exact shift
        assert _peak_hz(out) == pytest.approx(440 * 2 ** (semitones / 12), rel=0.007)


def test_noise_is_added_at_the_requested_snr():
    wave = 0.3 * _sine()
    for snr in (0, 5, 10, 20):
        noisy = AddNoise(snr_db=[snr])(wave, RATE, _generator(snr))
        measured = 10 * math.log10(wave.pow(2).sum() / (noisy - wave).pow(2).sum())
        assert measured == pytest.approx(snr, abs=0.01)


def test_room_impulse_decays_60_db_in_rt60_and_reverberation_convolves_with_it():
    for rt60 in (0.3, 0.6):
        rir = room_impulse(rt60, RATE, _generator())
        assert rir.numel() == round(rt60 * RATE) and rir.norm() == pytest.approx(1.0)
        blocks = rir[1:][: (rir.numel() - 1) // 160 * 160].reshape(-1, 160).pow(2).mean(dim=1)  # 10 ms blocks
        t = (torch.arange(blocks.numel()) + 0.5) * 0.01
        slope = torch.linalg.lstsq(torch.stack([t, torch.ones_like(t)], 1), 10 * blocks.log10()[:, None]).solution[0]
        assert -60 / slope.item() == pytest.approx(rt60, rel=0.1)  # seconds per 60 dB
    impulse = torch.zeros(RATE)
    impulse[0] = 0.5
    out = Reverberation(low=0.4, high=0.4)(impulse, RATE, _generator())
    draws = _generator()
    torch.rand((), generator=draws)  # the RT60 draw
    expected = room_impulse(0.4, RATE, draws)
    assert out.numel() == RATE and out.abs().max() == pytest.approx(0.5)
    expected = 0.5 * expected / expected.abs().max()  # the input's peak kept
    assert torch.allclose(out[: expected.numel()], expected, atol=1e-5) and out[expected.numel() :].abs().max() < 1e-5


def test_telephone_band_keeps_nothing_above_4_khz():
    wave = torch.randn(2 * RATE, generator=_generator())
    out = TelephoneBand()(wave, RATE)
    power = lambda w: torch.fft.rfft(w).abs().pow(2)  # noqa: E731
    hz = torch.fft.rfftfreq(wave.numel(), 1 / RATE)
    assert out.numel() == wave.numel()
    assert power(out)[hz > 4000].sum() / power(out).sum() < 1e-4
    assert power(out)[hz < 3500].sum() / power(wave)[hz < 3500].sum() == pytest.approx(1.0, abs=0.05)


def test_augmentations_are_deterministic_under_a_seed_and_fresh_per_draw():
    augment = Augmentations([SpeedPerturbation(p=0.5), Tempo(p=0.5), AddNoise(p=1.0), Reverberation(p=0.5)])
    wave = _sine(seconds=0.5)
    first, rate = augment((wave, RATE), _generator(1))
    again, _ = augment((wave, RATE), _generator(1))
    assert rate == RATE and torch.equal(first, again)
    torch.manual_seed(3)
    global_first = augment((wave, RATE))[0]
    global_second = augment((wave, RATE))[0]
    torch.manual_seed(3)
    assert torch.equal(augment((wave, RATE))[0], global_first) and not torch.equal(global_first, global_second)
    assert torch.equal(Augmentations([AddNoise(p=0.0)])((wave, RATE))[0], wave)
    with pytest.raises(ValueError, match="AddNoise: p=1.5 must be in"):
        Augmentations([AddNoise(p=1.5)])


def test_only_the_training_split_is_augmented_fresh_each_epoch(tmp_path):
    clip = (0.3 * _sine(seconds=0.5), RATE)
    raw = RawDataset({"source": [clip] * 4, "target": ["a", "b", "c", "d"]})
    tokenizer = AudioFbankTokenizer(d_model=8)
    data = DataModule(raw, valid=raw, test=raw, batch_size=4, num_workers=1,
                      augment={"source": Augmentations([AddNoise(snr_db=[10], p=1.0)])})
    data.attach({"source": tokenizer, "target": CharIds()})
    clean = tokenizer.prepare(clip)
    for loader in (data.val_dataloader(), data.test_dataloader()):
        assert all(torch.equal(item, clean) for item in next(iter(loader))["source"].values)
    torch.manual_seed(0)
    loader = data.train_dataloader()
    epochs = [next(iter(loader))["source"].values for _ in range(2)]
    assert not torch.equal(epochs[0][0], clean) and not torch.equal(epochs[0][0], epochs[0][1])  # fresh per item
    assert not torch.equal(epochs[0], epochs[1])  # and per epoch
    torch.manual_seed(0)
    repeat = DataModule(raw, valid=raw, batch_size=4, num_workers=1, augment=data.augment)
    repeat.attach({"source": tokenizer, "target": CharIds()})
    assert torch.equal(next(iter(repeat.train_dataloader()))["source"].values, epochs[0])  # the same seed, the same run
    with pytest.raises(ValueError, match="data.augment: no task field 'audio'; the task's fields: source, target"):
        DataModule(raw, augment={"audio": data.augment["source"]}).attach({"source": tokenizer, "target": CharIds()})


def test_the_voices_recipe_composes_every_step_and_all_three_synthesizers():
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=asr_digits_voices", "run_dir=/tmp/unused"])
    assert [cfg.data[split].synthesizers for split in ("train", "valid", "test")] == [["espeak", "flite", "festival"]] * 3
    assert cfg.model.d_model == 144 and cfg.task.generator.beam_size == 4  # asr_digits underneath
    assert cfg.model.conv_kernel == 15 and cfg.data.test.stretch is None  # its own encoder; the synthesizers' own pace
    assert cfg.task.objectives.ctc.weight == 0.5 and cfg.task.generator.ctc_weight == 0.9  # its own CTC shares
    augment = instantiate(cfg.data.augment, _convert_="all")
    assert [type(step) for step in augment["source"].steps] == [
        SpeedPerturbation, Tempo, PitchShift, Reverberation, TelephoneBand, AddNoise]
    copy = pickle.loads(pickle.dumps(augment["source"]))  # as it travels to spawned workers
    clip = (_sine(seconds=0.5), RATE)
    assert torch.equal(copy(clip, _generator())[0], augment["source"](clip, _generator())[0])
