#!/usr/bin/env bash
# MONAI bundle inference: voxelflow import-bundle + run vs `python -m monai.bundle run`, same CT, same run.
# See bundle.py. Usage: Benchmarks/bundle.sh [--repeat N] [--wholebody 3|1.5] [--limit-gb G] [--inputs small|big|both]   (needs scripts/setup-torch.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-torch.sh
# Its own build folder, so that benchmarking does not undo the test build (other flags) and the reverse.
swift build -c release --scratch-path "$root/.build-bench" --product voxelflow >&2
vf="$(swift build -c release --scratch-path "$root/.build-bench" --show-bin-path)/voxelflow"
"$root/.venv-torch/bin/python" "$root/Benchmarks/bundle.py" "$vf" "$root/Benchmarks/work/bundle" "$@"
