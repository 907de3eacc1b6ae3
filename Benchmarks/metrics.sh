#!/usr/bin/env bash
# Segmentation metrics (HD95, surface Dice, ASSD for the 116 AAL labels at 1 mm), VoxelFlow vs MONAI, same CPU, same
# run. See metrics.py. Needs .venv-torch (scripts/setup-torch.sh; benchmarks only) and the shared corpus.
# Usage: Benchmarks/metrics.sh [--repeat N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
shared="${VOXELFLOW_SHARED_DATA:-$root/../shared/data}"
aal="$shared/nifti/colin27/aal.nii.gz"
[ -f "$aal" ] || { echo "metrics.sh: $aal is missing (set VOXELFLOW_SHARED_DATA)" >&2; exit 2; }
bash scripts/setup-torch.sh
swift build -c release --product voxelflow-bench >&2
bench="$(swift build -c release --show-bin-path)/voxelflow-bench"
exec "$root/.venv-torch/bin/python" "$root/Benchmarks/metrics.py" "$bench" "$aal" "$root/Benchmarks/work" "$@"
