#!/usr/bin/env python3
"""Converts a DICOM SEG back to label maps with dcmqi's segimage2itkimage (an independent reader, built on
DCMTK's dcmseg and ITK) and compares them with the label map it was made from.

  seg_dcmqi.py SEG.dcm LABELS.nii.gz

dcmqi writes one NIfTI per segment for a BINARY SEG (voxels hold the segment number) or one for a LABELMAP.
Segment N stands for the N-th label value present in LABELS (in increasing order), as VoxelFlow numbers
them. Prints JSON: per segment number, voxels that differ and the Dice coefficient; the largest affine
difference (mm) between dcmqi's grids and LABELS'; and the segment labels from dcmqi's meta.json.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np


def main():
    seg_path, labels_path = sys.argv[1:3]
    tool = os.path.join(os.path.dirname(sys.executable), "segimage2itkimage")
    reference = nib.load(labels_path)
    ours = np.asarray(reference.dataobj).astype(np.int64)
    present = sorted(int(v) for v in np.unique(ours) if v > 0)
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([tool, "--inputDICOM", seg_path, "--outputDirectory", out, "--outputType", "nifti"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        combined = np.zeros(ours.shape, dtype=np.int64)
        affine_difference = 0.0
        for path in glob.glob(os.path.join(out, "*.nii.gz")):
            image = nib.load(path)
            data = np.asarray(image.dataobj).astype(np.int64)
            affine_difference = max(affine_difference, float(np.abs(image.affine - reference.affine).max()))
            combined[data > 0] = data[data > 0]
        with open(os.path.join(out, "meta.json")) as f:
            meta = json.load(f)
    labels = [a.get("SegmentLabel", "") for group in meta["segmentAttributes"] for a in group
              if a.get("SegmentLabel", "") != "Background"]
    per_segment = {}
    for number, value in enumerate(present, start=1):
        a, b = combined == number, ours == value
        size = int(a.sum() + b.sum())
        per_segment[str(number)] = {"differing": int(np.count_nonzero(a != b)),
                                    "dice": 1.0 if size == 0 else 2.0 * float(np.logical_and(a, b).sum()) / size}
    print(json.dumps({"segments": per_segment, "affineDifference": affine_difference, "labels": labels}))


if __name__ == "__main__":
    main()
