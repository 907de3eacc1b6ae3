#!/usr/bin/env bash
# Lays out the training archive of pipelines/training/ct-head-tissue.json: OUT/ct/<case>.nii.gz.
#   head     the sample head CT (sample-data/nifti/ct_head_hu.nii.gz), the training and validation case
#   abdomen  TotalSegmentator's example CT (abdomen and pelvis, 3 mm), held out
#   chest    3D Slicer's chest CT from slicerio (3.05 x 3.05 x 10 mm), held out
#   lung     pyradiomics' lung CT (0.57 x 0.57 x 5 mm), held out
# The labels are not files: the pipeline draws them from the HU thresholds of the head CT's InVesalius masks.
# Usage: scripts/models/prepare_ct_tissue_data.sh CORPUS OUT   (CORPUS: the shared data folder)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
corpus="$1"
out="$2"
mkdir -p "$out/ct"
cp "$root/sample-data/nifti/ct_head_hu.nii.gz" "$out/ct/head.nii.gz"
cp "$corpus/labelled/totalsegmentator/example_ct.nii.gz" "$out/ct/abdomen.nii.gz"
cp "$corpus/labelled/slicerio_chest/ct_chest.nii.gz" "$out/ct/chest.nii.gz"
cp "$corpus/labelled/pyradiomics/lung1_ct.nii.gz" "$out/ct/lung.nii.gz"
echo "training archive: $out/ct (4 scans)"
