#!/usr/bin/env python3
"""Reads a DICOM RTSTRUCT with rt-utils (an independent reader: pydicom + OpenCV's fillPoly) and compares
each ROI's mask with a label map; or writes an RTSTRUCT with rt-utils from a label map.

  rtstruct_reference.py read RT.dcm SERIES_DIR LABELS.nii.gz [OURS.nii.gz]
  rtstruct_reference.py write SERIES_DIR LABELS.nii.gz OUT.dcm

LABELS (nibabel; x = column, y = row, z = slice along the normal, as VoxelFlow orders a series) holds label
values; ROI n stands for the n-th value present, in increasing order. `read` prints JSON per ROI: its name,
the Dice coefficient of rt-utils' mask against the label, and — when OURS (VoxelFlow's rasterisation of the
same RTSTRUCT, values = ROI rank) is given — the voxels where rt-utils and VoxelFlow disagree and how many of
those lie more than one voxel (in-plane, 8-neighbourhood) from a boundary of either mask (rt-utils rounds
contour points to whole pixels and fills polygons with their edges, so it disagrees along boundaries and
closes holes a pixel or two wide). `write` makes
one ROI per label value named "Structure <value>".
"""
import json
import sys

import nibabel as nib
import numpy as np
from rt_utils import RTStructBuilder
from scipy import ndimage


def to_rtutils(volume):
    """x, y, z -> rt-utils' (rows, columns, slices)."""
    return np.transpose(volume, (1, 0, 2))


def main():
    mode = sys.argv[1]
    if mode == "write":
        series_dir, labels_path, out = sys.argv[2:5]
        labels = to_rtutils(np.asarray(nib.load(labels_path).dataobj))
        rt = RTStructBuilder.create_new(dicom_series_path=series_dir)
        for value in sorted(int(v) for v in np.unique(labels) if v > 0):
            rt.add_roi(mask=labels == value, name=f"Structure {value}")
        rt.save(out)
        print(json.dumps({"rois": len(rt.get_roi_names())}))
        return
    rt_path, series_dir, labels_path = sys.argv[2:5]
    ours_path = sys.argv[5] if len(sys.argv) > 5 else None
    labels = to_rtutils(np.asarray(nib.load(labels_path).dataobj))
    ours = to_rtutils(np.asarray(nib.load(ours_path).dataobj)) if ours_path else None
    rt = RTStructBuilder.create_from(dicom_series_path=series_dir, rt_struct_path=rt_path)
    values = sorted(int(v) for v in np.unique(labels) if v > 0)
    result = []
    for rank, (name, value) in enumerate(zip(rt.get_roi_names(), values), start=1):
        theirs = rt.get_roi_mask_by_name(name)
        truth = labels == value
        size = int(theirs.sum() + truth.sum())
        entry = {"name": name, "dice": 1.0 if size == 0 else 2.0 * float(np.logical_and(theirs, truth).sum()) / size}
        if ours is not None:
            mine = ours == rank
            differ = mine != theirs
            # Boundary band of both masks: voxels within one voxel (in the slice plane) of a change.
            structure = np.zeros((3, 3, 3), bool)
            structure[:, :, 1] = True
            band = np.zeros(theirs.shape, bool)
            for m in (theirs, mine):
                band |= ndimage.binary_dilation(m, structure) & ~ndimage.binary_erosion(m, structure, border_value=0)
            band = ndimage.binary_dilation(band, structure)
            entry["differing"] = int(differ.sum())
            entry["differingOffBoundary"] = int((differ & ~band).sum())
        result.append(entry)
    print(json.dumps({"rois": result, "names": rt.get_roi_names()}))


if __name__ == "__main__":
    main()
