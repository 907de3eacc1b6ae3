#!/usr/bin/env bash
# Archive-scale scan (100,000 files) with and without --cache, vs pydicom and dcm2niix. See scan_cache.py.
# Usage: Benchmarks/scan_cache.sh [--repeat N] [--files N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
swift build -c release --product voxelflow >&2
bin="$(swift build -c release --show-bin-path)"
template="$root/sample-data/dicom/ct_head_implicit/IM0047.dcm"
exec "$root/.venv-oracles/bin/python" "$root/Benchmarks/scan_cache.py" "$bin/voxelflow" "$template" "$root/Benchmarks/work" "$@"
