#!/usr/bin/env bash
# Lays out the training archive of pipelines/training/scan-classifier.json: OUT/scans/<case>.nii.gz and
# OUT/classes.csv (case,class) with the classes ct-head, t1-mr and other, from the shared corpus.
#   ct-head  head        the sample head CT (the corpus holds one head CT)
#   t1-mr    colin27 mni152 brain1_t1c brain2_t1c anatomical
#   other    abdomen_ct chest_ct lung_ct spine_ct (CT of other regions), abdomen_mr spine_t2 (other MR),
#            macaque_t1 (a T1 MR, but not a human head)
# Usage: scripts/models/prepare_scan_classifier_data.sh CORPUS OUT   (CORPUS: the shared data folder)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
corpus="$1"
out="$2"
mkdir -p "$out/scans"
echo "case,class" > "$out/classes.csv"
add() { cp "$2" "$out/scans/$1.nii.gz"; echo "$1,$3" >> "$out/classes.csv"; }
add head "$root/sample-data/nifti/ct_head_hu.nii.gz" ct-head
add colin27 "$corpus/nifti/colin27/ch2.nii.gz" t1-mr
add mni152 "$corpus/nifti/mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz" t1-mr
add brain1_t1c "$corpus/labelled/pyradiomics/brain1_t1c.nii.gz" t1-mr
add brain2_t1c "$corpus/labelled/pyradiomics/brain2_t1c.nii.gz" t1-mr
gzip -c "$corpus/nifti/format/nibabel_anatomical.nii" > "$out/scans/anatomical.nii.gz"; echo "anatomical,t1-mr" >> "$out/classes.csv"
add abdomen_ct "$corpus/labelled/totalsegmentator/example_ct.nii.gz" other
add chest_ct "$corpus/labelled/slicerio_chest/ct_chest.nii.gz" other
add lung_ct "$corpus/labelled/pyradiomics/lung1_ct.nii.gz" other
add spine_ct "$corpus/labelled/tptbox/sub-ct_label-22_ct.nii.gz" other
add abdomen_mr "$corpus/labelled/totalsegmentator/example_mr_sm.nii.gz" other
add spine_t2 "$corpus/labelled/tptbox/sub-mri_label-6_T2w.nii.gz" other
add macaque_t1 "$corpus/nifti/inia19_macaque/inia19-t1-brain.nii.gz" other
echo "scan classifier archive: $out ($(($(wc -l < "$out/classes.csv") - 1)) scans)"
