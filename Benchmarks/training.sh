#!/usr/bin/env bash
# Training steps (forward, DiceCE, backward, Adam), VoxelFlow vs PyTorch + MONAI (CPU, 2 threads), same weights
# and batch. See training.py for the models and options. Needs .venv-torch (scripts/setup-torch.sh; benchmarks only).
# Usage: Benchmarks/training.sh [--model unet|basicunet|segresnet|dynunet|resnet18|densenet] [--steps N] [--rounds R] [--size S] [--batch B]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-torch.sh
swift build -c release --product voxelflow-bench >&2
bench="$(swift build -c release --show-bin-path)/voxelflow-bench"
exec "$root/.venv-torch/bin/python" "$root/Benchmarks/training.py" "$bench" "$root/Benchmarks/work" "$@"
