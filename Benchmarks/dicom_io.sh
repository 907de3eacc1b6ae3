#!/usr/bin/env bash
# DICOM load/convert/scan benchmark, VoxelFlow vs SimpleITK, pydicom and dcm2niix, same inputs, same run.
# See dicom_io.py. Usage: Benchmarks/dicom_io.sh [--repeat N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
swift build -c release --product voxelflow-bench >&2
swift build -c release --product voxelflow >&2
bin="$(swift build -c release --show-bin-path)"
shared="${VOXELFLOW_SHARED_DATA:-$root/../shared/data}"
source_ct="$shared/nifti/ct_head/ct_head_hu.nii.gz"
[ -f "$source_ct" ] || source_ct="$root/sample-data/nifti/ct_head_hu.nii.gz"
template="$root/sample-data/dicom/ct_head_implicit/IM0047.dcm"
exec "$root/.venv-oracles/bin/python" "$root/Benchmarks/dicom_io.py" "$bin/voxelflow-bench" "$bin/voxelflow" "$source_ct" "$template" "$root/Benchmarks/work" "$@"
