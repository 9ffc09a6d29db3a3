"""The peak FLOP/s a model FLOP utilization (MFU) divides by: a GPU's dense spec-sheet figure
for the precision in use, or a CPU's measured matmul speed."""

from __future__ import annotations

import re
import time

import torch

__all__ = ["GPU_PEAK_TFLOPS", "compute_precision", "gpu_peak_tflops", "cpu_peak_tflops", "device_peak_tflops"]

# Dense (without structured sparsity) TFLOP/s from NVIDIA's spec sheets, matched in order against
# the lowercased torch.cuda.get_device_name(). Cards without TF32 (V100, T4) run float32 matmuls
# in float32; bfloat16 has no entry where the card lacks it.
GPU_PEAK_TFLOPS: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("H100 SXM", r"h100.*(sxm|hbm3)", {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989}),
    ("H100 PCIe", r"h100.*pcie", {"fp32": 51, "tf32": 378, "bf16": 756, "fp16": 756}),
    ("H200 NVL", r"h200.*nvl", {"fp32": 60, "tf32": 418, "bf16": 836, "fp16": 836}),
    ("H200", r"h200", {"fp32": 67, "tf32": 495, "bf16": 989, "fp16": 989}),
    ("A100", r"a100", {"fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312}),
    ("L4", r"\bl4\b", {"fp32": 30.3, "tf32": 60, "bf16": 121, "fp16": 121}),
    ("A10G", r"\ba10g?\b", {"fp32": 31.2, "tf32": 62.5, "bf16": 125, "fp16": 125}),  # the A10's sheet
    ("RTX 4090", r"rtx 4090", {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2}),  # FP32 accumulate
    ("V100S", r"v100s", {"fp32": 16.4, "fp16": 130}),
    ("V100 SXM", r"v100.*sxm", {"fp32": 15.7, "fp16": 125}),
    ("V100 PCIe", r"v100", {"fp32": 14, "fp16": 112}),
    ("T4", r"\bt4\b", {"fp32": 8.1, "fp16": 65}),
)

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp64": torch.float64}
_CPU_PEAKS: dict[tuple[torch.dtype, int, int], float] = {}  # (dtype, threads, size) -> TFLOP/s


def compute_precision(precision: str, device_type: str) -> str:
    """The precision matmuls run in: ``bf16``, ``fp16``, ``tf32``, ``fp32``, ``fp64`` or ``fp8``.

    Args:
        precision: Lightning's ``trainer.precision`` (``"bf16-mixed"``, ``"16-mixed"``, ``"32-true"``, ...).
        device_type: ``"cuda"``, ``"cpu"``, ...; float32 on a GPU is TF32 unless
            ``torch.get_float32_matmul_precision()`` is ``"highest"``.
    """
    precision = str(precision)
    if precision.startswith("bf16"):
        return "bf16"
    if precision.startswith("16"):
        return "fp16"
    if precision.startswith("64"):
        return "fp64"
    if precision.startswith("transformer-engine"):
        return "fp8"
    if device_type == "cuda" and torch.get_float32_matmul_precision() != "highest":
        return "tf32"
    return "fp32"


def gpu_peak_tflops(device_name: str, precision: str) -> float | None:
    """The dense spec-sheet peak of a GPU for a precision, in TFLOP/s (``GPU_PEAK_TFLOPS``).

    Args:
        device_name: as ``torch.cuda.get_device_name()`` gives it, e.g. ``"NVIDIA H100 80GB HBM3"``.
        precision: ``bf16``, ``fp16``, ``tf32`` or ``fp32`` (``compute_precision``).
    Returns:
        TFLOP/s, or None where the card or the precision is not in the table.
    """
    name = device_name.lower()
    for _, pattern, peaks in GPU_PEAK_TFLOPS:
        if re.search(pattern, name):
            if precision == "tf32" and "tf32" not in peaks:
                precision = "fp32"
            return peaks.get(precision)
    return None


def cpu_peak_tflops(dtype: torch.dtype = torch.float32, size: int = 2048, repeats: int = 3) -> float:
    """A measured, not a spec-sheet, peak of this CPU in TFLOP/s: the fastest of ``repeats`` timed
    ``size`` x ``size`` matmuls in ``dtype`` (after one untimed), with torch's current thread count.

    Measured once per process for each dtype, thread count and size (about a second); a machine
    busy with other work measures lower, and its MFU reads higher.
    """
    key = (dtype, torch.get_num_threads(), size)
    if key not in _CPU_PEAKS:
        draws = torch.Generator().manual_seed(0)
        a, b = (torch.randn(size, size, generator=draws).to(dtype) for _ in range(2))
        torch.mm(a, b)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
        _CPU_PEAKS[key] = 2 * size**3 / best / 1e12
    return _CPU_PEAKS[key]


def device_peak_tflops(device: torch.device, precision: str) -> tuple[float | None, str]:
    """The peak of one training device, and what it is.

    Args:
        device: the device a process trains on (``trainer.strategy.root_device``).
        precision: Lightning's ``trainer.precision``.
    Returns:
        ``(TFLOP/s or None where unknown, a description such as "NVIDIA H200, bf16 dense (spec sheet)")``.
    """
    kind = compute_precision(precision, device.type)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = gpu_peak_tflops(name, kind)
        return peak, f"{name}, {kind} dense (spec sheet)" if peak else f"{name}, {kind}: not in tformer.peaks' table"
    if device.type == "cpu":
        dtype = _DTYPES.get(kind, torch.float32)
        threads = torch.get_num_threads()
        return cpu_peak_tflops(dtype), f"CPU, {str(dtype).removeprefix('torch.')} matmul measured with {threads} threads"
    return None, f"{device.type}: no peak known"
