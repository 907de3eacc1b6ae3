#!/usr/bin/env bash
# Builds VoxelFlow and runs the demo on sample-data/: inspect a real head CT, convert it between NIfTI
# layouts, list the DICOM series of a folder and convert a real CT series to NIfTI, run the example pipelines
# and the shipped models (head CT, brain extraction, scan classifier), import a MONAI bundle and run it, and
# de-identify the DICOM files.
# Outputs go to demo-output/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
swift build -c release --product voxelflow
bin="$(swift build -c release --show-bin-path)/voxelflow"
out="$root/demo-output"
mkdir -p "$out"

ct="sample-data/nifti/ct_head_hu.nii.gz"
echo "== voxelflow info $ct"
"$bin" info "$ct"
echo
echo "== voxelflow convert $ct -> demo-output/ct_head_hu.nii (uncompressed) and .hdr/.img pair"
"$bin" convert "$ct" "$out/ct_head_hu.nii" --force
"$bin" convert "$out/ct_head_hu.nii" "$out/ct_head_hu_pair.hdr" --force
echo
echo "== voxelflow convert sample-data/nifti/ct_head_mask_bone.nii.gz -> demo-output/ct_head_mask_bone_nifti2.nii.gz (NIfTI-2)"
"$bin" convert sample-data/nifti/ct_head_mask_bone.nii.gz "$out/ct_head_mask_bone_nifti2.nii.gz" --nifti-version 2 --force
echo
echo "== voxelflow info --json demo-output/ct_head_mask_bone_nifti2.nii.gz"
"$bin" info --json "$out/ct_head_mask_bone_nifti2.nii.gz"
echo
echo "== voxelflow scan sample-data/dicom (series in a folder, headers only)"
"$bin" scan sample-data/dicom
echo
echo "== voxelflow convert sample-data/dicom/ct_head_implicit -> demo-output/ct_head_from_dicom.nii.gz"
"$bin" convert sample-data/dicom/ct_head_implicit "$out/ct_head_from_dicom.nii.gz" --force
"$bin" info "$out/ct_head_from_dicom.nii.gz"
echo
echo "== voxelflow info sample-data/dicom/CT_small.dcm (one DICOM header)"
"$bin" info sample-data/dicom/CT_small.dcm
echo
echo
echo "== voxelflow validate / run pipelines/ct-bone-segmentation.json over sample-data/dicom"
"$bin" validate pipelines/ct-bone-segmentation.json
rm -rf "$out/bone-run"
"$bin" run pipelines/ct-bone-segmentation.json --input sample-data/dicom --output "$out/bone-run"
echo "case report (excerpt):"
head -40 "$out/bone-run/cases/INV3-CRANIUM_CT1/report.json"
echo "DICOM SEG for PACS viewers (on the source series):"
"$bin" info "$out/bone-run/cases/INV3-CRANIUM_CT1/bone_seg.dcm"
echo "its measurements as a DICOM SR (TID 1500; the pipeline's write-dicom-sr stage wrote measurements.dcm the same way):"
"$bin" export-sr "$out/bone-run/cases/INV3-CRANIUM_CT1/bone_seg.dcm" --reference sample-data/dicom/ct_head_implicit -o "$out/bone-measurements.dcm" --force
echo
echo "== voxelflow run pipelines/label-statistics.json over sample-data (image + label pairs)"
rm -rf "$out/stats-run"
"$bin" run pipelines/label-statistics.json --input sample-data --output "$out/stats-run"
echo
echo "== voxelflow run pipelines/ct-head-tissue.json over sample-data (CNN segmentation: soft tissue and bone)"
rm -rf "$out/tissue-run"
"$bin" run pipelines/ct-head-tissue.json --input sample-data --output "$out/tissue-run"
echo "label map: demo-output/tissue-run/cases/head/tissue.nii.gz; statistics (excerpt):"
grep -A3 '"name"' "$out/tissue-run/cases/head/report.json" | head -16
echo
echo "== voxelflow run pipelines/ct-head-report.json over sample-data/dicom (the full demonstration:"
echo "   DICOM series -> CNN -> label map on the source grid, DICOM SEG, RTSTRUCT, HTML report with pictures)"
rm -rf "$out/report-run"
"$bin" run pipelines/ct-head-report.json --input sample-data/dicom --output "$out/report-run"
case_dir="$out/report-run/cases/INV3-CRANIUM_CT1"
ls -l "$case_dir"
echo "structures (same numbers as report.json and report.html):"
cat "$case_dir/structures.csv"
echo "DICOM SEG and RTSTRUCT read back onto the series:"
"$bin" convert "$case_dir/tissue_seg.dcm" "$out/tissue_seg_back.nii.gz" --reference sample-data/dicom/ct_head_implicit --force
"$bin" convert "$case_dir/tissue_rtstruct.dcm" "$out/tissue_rtstruct_back.nii.gz" --reference sample-data/dicom/ct_head_implicit --force
echo "open demo-output/report-run/index.html in a browser for the batch page and each case's report"
echo
echo "== voxelflow run pipelines/brain-extraction.json over sample-data/nifti/t1 (the shipped T1 brain-extraction"
echo "   model on a head it never saw, stored three ways: 2x2x3 mm LPI, oblique sagittal, bias field + gamma)"
rm -rf "$out/brain-run"
"$bin" run pipelines/brain-extraction.json --input sample-data/nifti/t1 --output "$out/brain-run"
echo "== voxelflow evaluate: the masks against the reference masks (model card: pipelines/models/brain-extraction/README.md)"
"$bin" evaluate "$out/brain-run" sample-data/nifti/t1-brainmask --prediction-file brain_mask.nii.gz --label-table pipelines/labels/brain.json
echo
echo "== voxelflow run pipelines/route-by-scan-type.json over a mixed folder (the scan classifier sends the head CT"
echo "   to the head CT model and the T1 MRI to brain extraction; model card: pipelines/models/scan-classifier/README.md)"
rm -rf "$out/mixed" "$out/route-run"
mkdir -p "$out/mixed"
cp sample-data/nifti/ct_head_hu.nii.gz "$out/mixed/head_ct.nii.gz"
cp sample-data/nifti/t1/mni152_lps-2x2x3.nii.gz "$out/mixed/t1_mri.nii.gz"
"$bin" run pipelines/route-by-scan-type.json --input "$out/mixed" --output "$out/route-run"
for c in head_ct t1_mri; do
  echo "$c: $(grep -o '"predicted": *"[a-z0-9-]*"' "$out/route-run/cases/$c/report.json" | head -1); files: $(ls "$out/route-run/cases/$c" | tr '\n' ' ')"
done
echo
echo "== voxelflow model info pipelines/models/brain-extraction (a model package: network, weights, its own"
echo "   preprocessing and postprocessing, labels and model card in one folder)"
"$bin" model info pipelines/models/brain-extraction
echo
echo "== voxelflow import-bundle: a MONAI bundle folder (the test bundle Tests/Fixtures/bundles/ct-tissue-bundle,"
echo "   laid out as the MONAI Model Zoo publishes them) becomes a model package, run on the head CT"
rm -rf "$out/bundle-model" "$out/bundle-run" "$out/bundle-in"
"$bin" import-bundle Tests/Fixtures/bundles/ct-tissue-bundle -o "$out/bundle-model"
mkdir -p "$out/bundle-in"
cp sample-data/nifti/ct_head_hu.nii.gz "$out/bundle-in/"
cat > "$out/bundle-pipeline.json" <<JSON
{ "voxelflow": 1, "name": "bundle-demo", "inputs": { "ct": { "type": "nifti", "pattern": "*.nii.gz" } },
  "stages": [ { "id": "tissue", "type": "segment", "source": "ct", "model": "$out/bundle-model" },
              { "id": "write", "type": "write-nifti", "source": "tissue", "path": "tissue.nii.gz" },
              { "id": "stats", "type": "label-statistics", "labels": "tissue", "image": "ct" },
              { "id": "report", "type": "write-report" } ] }
JSON
"$bin" run "$out/bundle-pipeline.json" --input "$out/bundle-in" --output "$out/bundle-run"
echo
echo "== voxelflow deidentify sample-data/dicom (PS3.15 Annex E Basic Profile, dates shifted per patient, keyed UIDs)"
rm -rf "$out/deidentified"
[ -f "$out/demo.key" ] || head -c 32 /dev/urandom | base64 > "$out/demo.key"
"$bin" deidentify sample-data/dicom "$out/deidentified" --key-file "$out/demo.key" --profile basic,shift-dates
"$bin" scan "$out/deidentified"
echo
echo "demo finished: outputs in demo-output/"
