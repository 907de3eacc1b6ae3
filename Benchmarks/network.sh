#!/usr/bin/env bash
# MONAI networks and sliding-window inference, VoxelFlow vs PyTorch (CPU, 2 threads), same weights and input.
# See network.py for the models and options. Needs a venv with torch, monai and safetensors:
# scripts/setup-torch.sh (a 5 GB download; benchmarks only).
# Usage: Benchmarks/network.sh [--model unet|basicunet|segresnet|dynunet|swinunetr|densenet] [--repeat N] [--size S] [--window] [--volume D H W]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-torch.sh
swift build -c release --scratch-path "$root/.build-bench" --product voxelflow-bench >&2
bench="$(swift build -c release --scratch-path "$root/.build-bench" --show-bin-path)/voxelflow-bench"
exec "$root/.venv-torch/bin/python" "$root/Benchmarks/network.py" "$bench" "$root/Benchmarks/work" "$@"
