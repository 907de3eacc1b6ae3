#!/usr/bin/env bash
# Measures time and peak memory of VoxelFlow on oversized inputs (see docs/hostile-inputs.md): a header
# claiming 4 GiB of voxels, pipelines of 1,000 and 10,000 stages, a 65,535-frame image, 10,000-segment SEGs.
#   scripts/measure_hostile_inputs.sh [WORK_DIR]     (needs .venv-oracles: scripts/setup-oracles.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/voxelflow-hostile.XXXXXX)}"
cd "$root"
swift build -c release --product voxelflow >&2
bin="$(swift build -c release --show-bin-path)/voxelflow"
py="$root/.venv-oracles/bin/python"
"$py" scripts/oracles/make_hostile_inputs.py "$work" >&2
"$py" - "$work" <<'PY'
import json, sys, pathlib
import nibabel as nb, numpy as np
work = pathlib.Path(sys.argv[1])
doc = json.loads((work / "pipeline_10000.json").read_text())
doc["stages"] = doc["stages"][:1000]
(work / "pipeline_1000.json").write_text(json.dumps(doc))
(work / "tiny").mkdir(exist_ok=True)
nb.save(nb.Nifti1Image(np.arange(64, dtype=np.float32).reshape(4, 4, 4), np.eye(4)), work / "tiny" / "tiny.nii.gz")
PY
mkdir -p "$work/head" && cp sample-data/nifti/ct_head_hu.nii.gz "$work/head/"
"$bin" convert sample-data/dicom/CT_small.dcm "$work/ct_small.nii.gz" --force -q
"$py" - "$work" <<'PY'
import sys, pathlib
import nibabel as nb, numpy as np
work = pathlib.Path(sys.argv[1])
im = nb.load(work / "ct_small.nii.gz")
flat = np.zeros(int(np.prod(im.shape[:3])), dtype=np.uint16)
flat[:10000] = np.arange(1, 10001)
nb.save(nb.Nifti1Image(flat.reshape(im.shape[:3], order="F"), im.affine), work / "labels_10000.nii.gz")
PY
measure() {  # name, command…
  local name="$1"; shift
  local status=0
  /usr/bin/time -o "$work/time.txt" -f "%e %M" "$@" >/dev/null 2>&1 || status=$?
  local out seconds kb
  out=$(tail -1 "$work/time.txt")
  seconds=${out% *}
  kb=${out#* }
  printf '| %s | %s | %s s | %s MiB |\n' "$name" "$( [ "$status" = 0 ] && echo done || echo "refused (exit $status)")" "$seconds" "$((kb / 1024))"
}
rm -rf "$work"/run-*
echo "| input | outcome | time | peak memory |"
echo "| --- | --- | --- | --- |"
measure "NIfTI header claiming 2048 x 1024 x 1024 int16 (4 GiB) in 352 bytes: convert" "$bin" convert "$work/huge_header.nii" "$work/o.nii.gz" --force
measure "pipeline of 10,000 stages: validate" "$bin" validate "$work/pipeline_10000.json" -q
measure "pipeline of 10,000 stages: run on a 4 x 4 x 4 image" "$bin" run "$work/pipeline_10000.json" -i "$work/tiny" -o "$work/run-tiny" -q
measure "pipeline of 1,000 stages: run on the 256 x 256 x 16 head CT" "$bin" run "$work/pipeline_1000.json" -i "$work/head" -o "$work/run-head" -q
measure "Enhanced CT of 65,535 frames (3.9 MB): scan" "$bin" scan "$work/frames_65535.dcm"
measure "Enhanced CT of 65,535 frames (3.9 MB): convert to NIfTI" "$bin" convert "$work/frames_65535.dcm" "$work/frames.nii.gz" --force
measure "SEG LABELMAP with 10,000 segments: export-seg" "$bin" export-seg "$work/labels_10000.nii.gz" --reference sample-data/dicom/CT_small.dcm -o "$work/seg_lm.dcm" --type labelmap --force
measure "SEG BINARY with 10,000 segments (27 MB): export-seg" "$bin" export-seg "$work/labels_10000.nii.gz" --reference sample-data/dicom/CT_small.dcm -o "$work/seg_bin.dcm" --type binary --force
measure "SEG LABELMAP with 10,000 segments: read (convert)" "$bin" convert "$work/seg_lm.dcm" "$work/seg_lm.nii.gz" --reference sample-data/dicom/CT_small.dcm --force
measure "SEG BINARY with 10,000 segments: read (convert)" "$bin" convert "$work/seg_bin.dcm" "$work/seg_bin.nii.gz" --force
