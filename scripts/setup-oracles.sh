#!/usr/bin/env bash
# Creates .venv-oracles with the independent reference tools tests and benchmarks compare against.
# Usage: scripts/setup-oracles.sh   (numpy, nibabel, pydicom, scipy, SimpleITK, highdicom, dcmqi, rt-utils, dicom-anonymizer, dicomweb-client, bids-validator; ~280 MB from PyPI)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-oracles"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
modules=(numpy nibabel pydicom scipy SimpleITK highdicom dcmqi rt_utils dicomanonymizer dicomweb_client bids_validator)
packages=(numpy nibabel pydicom scipy SimpleITK highdicom dcmqi rt-utils dicom-anonymizer dicomweb-client "bids-validator<2")
missing=()
for i in "${!modules[@]}"; do
  "$venv/bin/python" -c "import ${modules[$i]}" 2>/dev/null || missing+=("${packages[$i]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "voxelflow: installing oracles into .venv-oracles: ${missing[*]}" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2
fi
