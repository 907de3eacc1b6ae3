#!/usr/bin/env bash
# Builds Tests/Fixtures/dicom/siemens-dwi: a real Siemens TrioTim MOSAIC diffusion series (nibabel's test files
# siemens_dwi_0 and siemens_dwi_1000, b = 0 and b = 1000, same series) plus a third volume that repeats the
# b = 1000 file under a new SOPInstanceUID, InstanceNumber and AcquisitionNumber (dcm2niix writes .bval/.bvec
# only from three volumes on), and dcm2niix's output for the three files (the oracle of the tests).
# nibabel ships these files with their pixels zeroed, so each mosaic gets a pattern that tells volumes,
# tiles, rows and columns apart: 5000 * volume + 100 * tile + (row + 3 * column) % 100, over the real headers.
# Needs the oracle venv (scripts/setup-oracles.sh: nibabel, pydicom) and dcm2niix (scripts/install-deps.sh --bench).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="$root/.venv-oracles/bin/python"
out="$root/Tests/Fixtures/dicom/siemens-dwi"
command -v dcm2niix >/dev/null || { echo "dcm2niix is missing: bash scripts/install-deps.sh --bench" >&2; exit 1; }
data="$("$python" -c 'import nibabel.nicom, os; print(os.path.join(os.path.dirname(nibabel.nicom.__file__), "tests", "data"))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in" "$work/out" "$out/dcm2niix"
gunzip -c "$data/siemens_dwi_0.dcm.gz" > "$work/in/dwi_0.dcm"
gunzip -c "$data/siemens_dwi_1000.dcm.gz" > "$work/in/dwi_1000.dcm"
"$python" - "$work/in" <<'PY'
import sys, pydicom
folder = sys.argv[1]
d = pydicom.dcmread(folder + "/dwi_1000.dcm")
# A fixed UID under the pydicom root, so the fixture is reproducible.
d.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1000300001"
d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
d.InstanceNumber = 3
d.AcquisitionNumber = 3
d.save_as(folder + "/dwi_1000_repeat.dcm")
import numpy as np
for volume, name in enumerate(["dwi_0.dcm", "dwi_1000.dcm", "dwi_1000_repeat.dcm"], start=1):
    d = pydicom.dcmread(folder + "/" + name)
    tile = 128
    rows, columns = np.meshgrid(np.arange(d.Rows), np.arange(d.Columns), indexing="ij")
    tiles = (rows // tile) * (d.Columns // tile) + columns // tile
    pixels = 5000 * volume + 100 * tiles + ((rows % tile) + 3 * (columns % tile)) % 100
    d.PixelData = pixels.astype("<u2").tobytes()
    d.save_as(folder + "/" + name)
PY
dcm2niix -z y -f %p_%s -o "$work/out" "$work/in" > "$work/out/dcm2niix.log"
for f in "$work"/in/*.dcm; do gzip -9 -n -c "$f" > "$out/$(basename "$f").gz"; done
cp "$work"/out/*.nii.gz "$work"/out/*.bval "$work"/out/*.bvec "$work"/out/*.json "$out/dcm2niix/"
grep -m1 "version" "$work/out/dcm2niix.log" > "$out/dcm2niix/VERSION" || true
ls -la "$out" "$out/dcm2niix"
