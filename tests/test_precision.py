"""trainer.precision=auto: bf16 autocast only where the hardware multiplies bf16 natively."""

from pathlib import Path

import pytest
import torch

from tformer.training import native_bf16, resolve_precision


def _cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to compare with")
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.skip("/proc/cpuinfo lists no flags")


def test_native_bf16_on_cpu_agrees_with_the_cpu_flags():
    flags = _cpu_flags()
    assert native_bf16("cpu") == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_auto_follows_the_hardware(monkeypatch):
    for native, expected in ((True, "bf16-mixed"), (False, "32-true")):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
        assert resolve_precision("auto", "cpu") == expected
        if not torch.cuda.is_available():
            assert resolve_precision("auto", "auto") == expected


def test_auto_without_the_private_probes_is_float32(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert resolve_precision("auto", "cpu") == "32-true"


def test_auto_on_other_accelerators_is_float32_and_explicit_values_pass():
    assert resolve_precision("auto", "mps") == "32-true"
    for value in ("32-true", "bf16-mixed", "16-mixed", 32):
        assert resolve_precision(value, "cpu") == value
