#!/usr/bin/env bash
# Speed benchmarks on one GPU, under 8 minutes:
#   1. the speed suite (ratios against nn.Transformer, timm and Hugging Face Marian) on the GPU;
#   2. bf16 training throughput of the paper's base model (512, 8 heads, 6+6, 2048) with its MFU;
#   3. decoding with growing, static and compiled (CUDA-graph) caches against Marian: greedy at
#      batch 1 and beam 4 at batch 16.
#
#   benchmarks/gpu.sh [--device cuda] [--peak-tflops 989] [--python .venv/bin/python] [--quick]
#
# --quick runs both on tiny shapes (checks the script, e.g. with --device cpu; measures nothing).
# The peak is the GPU's dense bf16 TFLOP/s (H100 SXM 989, H200 989, A100 312).
set -euo pipefail
cd "$(dirname "$0")/.."

device=cuda
peak=989
python=.venv/bin/python
quick=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --peak-tflops) peak="$2"; shift 2 ;;
        --python) python="$2"; shift 2 ;;
        --quick) quick=(--quick); shift ;;
        *) echo "unknown option $1 (use --device, --peak-tflops, --python, --quick)" >&2; exit 2 ;;
    esac
done

"$python" -c "import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"
timeout 210 "$python" -m benchmarks.speed --device "$device" "${quick[@]}"
timeout 75 "$python" -m benchmarks.speed_mfu --device "$device" --peak-tflops "$peak" "${quick[@]}"
if [[ ${#quick[@]} -eq 0 ]]; then
    timeout 100 "$python" -m benchmarks.speed_decode --device "$device" --batch 1 --beam 1
    timeout 100 "$python" -m benchmarks.speed_decode --device "$device" --batch 16 --beam 4
fi
