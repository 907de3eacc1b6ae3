#!/usr/bin/env bash
# Overlap of retrieval and processing in `voxelflow run --input URL` (see pacs_overlap.py): K copies (new
# UIDs) of the 512×512×324 CT series of the DICOM benchmark in Orthanc (scripts/orthanc/up.sh), the bone
# segmentation pipeline, over DICOMweb and DIMSE.
# Usage: Benchmarks/pacs_overlap.sh [--copies K] [--repeat N]   (root; installs orthanc, the oracle venv)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
copies=4
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --copies) copies=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
bash scripts/install-deps.sh --bench
bash scripts/setup-oracles.sh
swift build -c release --scratch-path "$root/.build-bench" --product voxelflow >&2
vf="$(swift build -c release --scratch-path "$root/.build-bench" --show-bin-path)/voxelflow"
work="$root/Benchmarks/work/pacs-overlap"
mkdir -p "$work"
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
# K copies, each its own study and series (new UIDs), made once.
"$root/.venv-oracles/bin/python" - "$series" "$work/copies" "$copies" <<'PY'
import glob, os, sys
import pydicom
from pydicom.uid import generate_uid
source, out, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(glob.glob(os.path.join(source, "*.dcm")))
for c in range(k):
    d = os.path.join(out, "copy%02d" % c)
    if os.path.exists(os.path.join(d, os.path.basename(files[-1]))):
        continue
    os.makedirs(d, exist_ok=True)
    study, ser = generate_uid(), generate_uid()
    for f in files:
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, ser
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = "BENCH%02d" % c
        ds.save_as(os.path.join(d, os.path.basename(f)))
PY
export VF_ORTHANC_DIR=/tmp/voxelflow-orthanc-overlap VF_ORTHANC_PASSWORD="bench-$RANDOM"
bash scripts/orthanc/down.sh; WIPE=1 bash scripts/orthanc/down.sh
bash scripts/orthanc/up.sh >/dev/null
trap 'bash "$root/scripts/orthanc/down.sh"; WIPE=1 bash "$root/scripts/orthanc/down.sh"' EXIT
inns="$VF_ORTHANC_DIR/inns"
printf '%s\n' "$VF_ORTHANC_PASSWORD" > "$work/password"
for c in $(seq 0 $((copies - 1))); do
  "$inns" storescu -aec ORTHANC 127.0.0.1 14242 "$work/copies/copy$(printf %02d "$c")"/*.dcm
done
echo "stored $copies series in Orthanc" >&2
"$inns" "$root/.venv-oracles/bin/python" "$root/Benchmarks/pacs_overlap.py" "$vf" http://127.0.0.1:18042 14242 "$work/password" "$work" \
  "$root/pipelines/ct-bone-segmentation.json" "${args[@]}"
