#!/usr/bin/env bash
# MONAI UNet inference, VoxelFlow vs PyTorch (CPU, 2 threads), same weights and input. See unet.py.
# Needs a venv with torch, monai and safetensors: scripts/setup-torch.sh (a 5 GB download; benchmarks only).
# Usage: Benchmarks/unet.sh [--repeat N] [--size S]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-torch.sh
swift build -c release --product voxelflow-bench >&2
bench="$(swift build -c release --show-bin-path)/voxelflow-bench"
exec "$root/.venv-torch/bin/python" "$root/Benchmarks/unet.py" "$bench" "$root/Benchmarks/work" "$@"
