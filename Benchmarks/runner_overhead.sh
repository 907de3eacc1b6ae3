#!/usr/bin/env bash
# Runner overhead per case on 1,000 tiny NIfTI cases: `voxelflow run` against a plain nibabel loop doing the
# same work (read, threshold, write .nii.gz), same input, same run. See runner_overhead.py.
# Usage: Benchmarks/runner_overhead.sh [--cases N] [--repeat N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
swift build -c release --product voxelflow >&2
bin="$(swift build -c release --show-bin-path)/voxelflow"
exec "$root/.venv-oracles/bin/python" "$root/Benchmarks/runner_overhead.py" "$bin" "$root/Benchmarks/work/runner" "$@"
