#!/usr/bin/env python3
"""Compares VoxelFlow's reading of a DICOM SEG (without a reference series: the grid its frames span) with
highdicom's `get_volume` (segments combined), voxel for voxel in world coordinates.

  seg_volume_reference.py SEG.dcm OURS.nii.gz

Every voxel of OURS (nibabel; RAS affine) is mapped through the world (LPS) to highdicom's volume; prints
JSON: voxels compared, voxels that differ, voxels that fall outside highdicom's volume, and the count of
each segment number in highdicom's volume and in OURS.
"""
import json
import sys

import highdicom as hd
import nibabel as nib
import numpy as np


def main():
    seg_path, ours_path = sys.argv[1:3]
    volume = hd.seg.segread(seg_path).get_volume(combine_segments=True, relabel=False, skip_overlap_checks=True)
    theirs = np.asarray(volume.array)
    image = nib.load(ours_path)
    ours = np.asarray(image.dataobj)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine
    to_theirs = np.linalg.inv(volume.affine) @ lps
    i, j, k = np.meshgrid(*[np.arange(n) for n in ours.shape[:3]], indexing="ij")
    points = np.stack([i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)])
    index = np.rint(to_theirs @ points)[:3].astype(np.int64)
    inside = np.all((index >= 0) & (index < np.array(theirs.shape)[:, None]), axis=0)
    values = ours.reshape(-1)
    mapped = np.zeros(values.shape, dtype=np.int64)
    mapped[inside] = theirs[index[0, inside], index[1, inside], index[2, inside]]
    numbers = sorted(set(int(v) for v in np.unique(theirs)) | set(int(v) for v in np.unique(ours)))
    print(json.dumps({
        "voxels": int(values.size), "differing": int(np.count_nonzero(mapped != values)),
        "outside": int(np.count_nonzero(~inside)),
        "theirs": {str(n): int(np.count_nonzero(theirs == n)) for n in numbers if n > 0},
        "ours": {str(n): int(np.count_nonzero(ours == n)) for n in numbers if n > 0},
    }))


if __name__ == "__main__":
    main()
