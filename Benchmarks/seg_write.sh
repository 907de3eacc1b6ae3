#!/usr/bin/env bash
# DICOM SEG benchmark: VoxelFlow vs highdicom and dcmqi writing (BINARY, LABELMAP) and reading SEGs of the 116-label AAL atlas on a Colin27
# DICOM series made by pydicom, same run. See seg_write.py. Needs the shared corpus (../shared/data).
# Usage: Benchmarks/seg_write.sh [--repeat N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
corpus="${VOXELFLOW_SHARED_DATA:-$root/../shared/data}"
mkdir -p Benchmarks/work
swift build -c release --product voxelflow >&2
swift build -c release --product voxelflow-bench >&2
bin="$(swift build -c release --show-bin-path)/voxelflow"
cd Benchmarks
exec "$root/.venv-oracles/bin/python" "$root/Benchmarks/seg_write.py" "$bin" "$corpus" "$root/Benchmarks/work" "$@"
