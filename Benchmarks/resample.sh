#!/usr/bin/env bash
# Resampling benchmark (linear, or cubic B-spline with --bspline), VoxelFlow vs SimpleITK, same input and grid, same run. See resample.py.
# Needs Benchmarks/work/ct_512x512x324.nii.gz from Benchmarks/nifti_io.sh. Usage: Benchmarks/resample.sh [--repeat N] [--bspline]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
[ -f Benchmarks/work/ct_512x512x324.nii.gz ] || ./Benchmarks/nifti_io.sh --repeat 1 > /dev/null
swift build -c release --product voxelflow-bench >&2
bench="$(swift build -c release --show-bin-path)/voxelflow-bench"
exec "$root/.venv-oracles/bin/python" "$root/Benchmarks/resample.py" "$bench" "$root/Benchmarks/work/ct_512x512x324.nii.gz" "$root/Benchmarks/work" "$@"
