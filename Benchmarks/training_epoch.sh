#!/usr/bin/env bash
# A whole short training run (loading, caching, augmentation, steps): `voxelflow train` vs MONAI CacheDataset +
# DataLoader + PyTorch (CPU, 2 threads) on the same synthetic cases. See training_epoch.py for the details.
# Needs .venv-torch (scripts/setup-torch.sh; benchmarks only).
# Usage: Benchmarks/training_epoch.sh [--cases N] [--steps S]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-torch.sh
swift build -c release --product voxelflow >&2
exec "$root/.venv-torch/bin/python" "$root/Benchmarks/training_epoch.py" "$(swift build -c release --show-bin-path)/voxelflow" "$root/Benchmarks/work" "$@"
