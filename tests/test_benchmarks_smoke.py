"""The speed benchmarks run (tiny shapes, one repeat); their timings are not checked."""

import math
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def speed(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not a package
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    from benchmarks import speed

    yield speed
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ["train", "vit", "decode", "cache", "memory"])
def test_benchmark_runs_on_tiny_shapes(speed, name):
    if name == "decode":
        pytest.importorskip("transformers")
    settings = speed.Settings.quick()
    settings.repeats = 1
    results = speed.BENCHMARKS[name](settings)
    assert results
    for result in results:
        assert result.ours >= 0 and result.peer >= 0 and not math.isnan(result.ratio), result


def test_mfu_script_runs_on_cpu(speed, capsys):
    from benchmarks import speed_mfu

    speed_mfu.main(["--quick", "--device", "cpu"])
    assert "MFU" in capsys.readouterr().out


def test_asr_step_counts_the_convolution_it_runs(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import asr_step
    from tformer.tokenizers.audio import Conv2dSubsampling

    conv = Conv2dSubsampling(80, 16, 4).conv
    first, second = conv[0], conv[2]
    hidden = first(torch.zeros(1, 1, asr_step.FRAMES, 80))
    out = second(hidden)
    expected = out[0, 0].numel() * 4 * 4 * 9  # output positions x in x out channels x 3x3 kernel
    assert asr_step.macs_per_utterance(4)[0] == expected
    assert asr_step.step_seconds(4, steps=1) > 0
