#!/usr/bin/env bash
# NIfTI read/write benchmark, VoxelFlow vs nibabel, same input, same run. See nifti_io.py.
# Usage: Benchmarks/nifti_io.sh [--repeat N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
swift build -c release --product voxelflow-bench >&2
bench="$(swift build -c release --show-bin-path)/voxelflow-bench"
source_ct="${VOXELFLOW_SHARED_DATA:-$root/../shared/data}/nifti/ct_head/ct_head_hu.nii.gz"
[ -f "$source_ct" ] || source_ct="$root/sample-data/nifti/ct_head_hu.nii.gz"
exec "$root/.venv-oracles/bin/python" "$root/Benchmarks/nifti_io.py" "$bench" "$source_ct" "$root/Benchmarks/work" "$@"
