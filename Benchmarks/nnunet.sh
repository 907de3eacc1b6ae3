#!/usr/bin/env bash
# nnU-Net v2 inference, VoxelFlow (`voxelflow nnunet-predict`) vs nnUNetPredictor (CPU, 2 threads): same model
# folder (a 3d_fullres PlainConvUNet as nnU-Net plans it for CT, random weights), same input CT, end to end
# (reading to writing). See nnunet.py for the options. Needs .venv-torch with nnunetv2
# (scripts/setup-torch.sh, then `pip install nnunetv2`; benchmarks only).
# Usage: Benchmarks/nnunet.sh [--mirror] [--repeat N] [--spacing MM] [--patch P]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-torch.sh
"$root/.venv-torch/bin/python" -c "import nnunetv2" 2>/dev/null || "$root/.venv-torch/bin/pip" install --quiet nnunetv2
swift build -c release --product voxelflow >&2
exec "$root/.venv-torch/bin/python" "$root/Benchmarks/nnunet.py" "$(swift build -c release --show-bin-path)/voxelflow" "$root/Benchmarks/work/nnunet" "$@"
