#!/usr/bin/env bash
# Creates .venv-torch with PyTorch, MONAI and safetensors: for the network benchmarks and for regenerating
# the committed layer/network fixtures (scripts/oracles/export_nn_refs.py) and MONAI bundle oracles
# (fire and pytorch-ignite run `python -m monai.bundle`). Not needed by the tests.
# PyPI's torch wheel is the CUDA build (about 5 GB); it runs on the CPU here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-torch"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import torch, monai, safetensors, fire, ignite, scipy" 2>/dev/null; then exit 0; fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet torch numpy safetensors monai nibabel fire pytorch-ignite scipy
