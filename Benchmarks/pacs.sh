#!/usr/bin/env bash
# PACS retrieval to NIfTI, VoxelFlow vs dicomweb-client + pydicom + dcm2niix and vs findscu/getscu or movescu + dcm2niix,
# on a 512×512×324 CT series stored in Orthanc (scripts/orthanc/up.sh). See pacs.py.
# Usage: Benchmarks/pacs.sh [--repeat N]   (root; installs orthanc, dcm2niix, the oracle venv)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
# Its own build folder, so that benchmarking does not undo the test build (other flags) and the reverse.
swift build -c release --scratch-path "$root/.build-bench" --product voxelflow >&2
vf="$(swift build -c release --scratch-path "$root/.build-bench" --show-bin-path)/voxelflow"
work="$root/Benchmarks/work/pacs"
mkdir -p "$work"
# The 512×512×324 series of the DICOM benchmark (made once by trilinear upsampling of the real head CT).
series="$root/Benchmarks/work/ct_series_512"
if [ ! -f "$series/IM00324.dcm" ]; then
  shared="${VOXELFLOW_SHARED_DATA:-$root/../shared/data}"
  source_ct="$shared/nifti/ct_head/ct_head_hu.nii.gz"
  [ -f "$source_ct" ] || source_ct="$root/sample-data/nifti/ct_head_hu.nii.gz"
  "$root/.venv-oracles/bin/python" -c "
import sys; sys.path.insert(0, '$root/Benchmarks')
import dicom_io
dicom_io.make_inputs('$source_ct', '$root/sample-data/dicom/ct_head_implicit/IM0047.dcm', '$root/Benchmarks/work')"
fi
export VF_ORTHANC_DIR=/tmp/voxelflow-orthanc-bench VF_ORTHANC_PASSWORD="bench-$RANDOM"
bash scripts/orthanc/down.sh; WIPE=1 bash scripts/orthanc/down.sh
bash scripts/orthanc/up.sh >/dev/null
trap 'bash "$root/scripts/orthanc/down.sh"; WIPE=1 bash "$root/scripts/orthanc/down.sh"' EXIT
inns="$VF_ORTHANC_DIR/inns"
printf '%s\n' "$VF_ORTHANC_PASSWORD" > "$work/password"
"$inns" storescu -aec ORTHANC 127.0.0.1 14242 "$series"/*.dcm
echo "stored $(ls "$series" | wc -l) files in Orthanc" >&2
"$inns" "$root/.venv-oracles/bin/python" "$root/Benchmarks/pacs.py" "$vf" http://127.0.0.1:18042 14242 "$work/password" "$work" "$@"
