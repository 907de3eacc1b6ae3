#!/usr/bin/env python3
"""Reads a DICOM SEG with highdicom (an independent reader) and compares it with a label map.

  seg_reference.py SEG.dcm SERIES_DIR LABELS.nii.gz
  seg_reference.py SEG.dcm SERIES_DIR PROBABILITIES.nii.gz --fractional

The series' files are ordered by position along the slice normal (as VoxelFlow and dcm2niix order them);
highdicom rebuilds, for each source instance, the segment number of every pixel (segments combined). Each
segment number is mapped back to the label value whose name the segment carries ("Label N" or the label
table's name given by its segment number order), and the result is compared voxel for voxel with LABELS
(read by nibabel; x = column, y = row, z = slice). Prints JSON: segments (number, label, category, type,
algorithm), frames, differing voxels, and the label values per segment number.

With --fractional the SEG is FRACTIONAL and the third file holds one probability volume per segment (x, y, z,
segment); highdicom's probabilities are compared with them, and `maxDifference` (expected at most 1/510, the
8-bit rounding) replaces `differing`.
"""
import json
import os
import sys

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom


def main():
    seg_path, series_dir, labels_path = sys.argv[1:4]
    fractional = "--fractional" in sys.argv[4:]
    seg = hd.seg.segread(seg_path)
    combine = not fractional
    files = [os.path.join(series_dir, f) for f in sorted(os.listdir(series_dir))]
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    if len(datasets) == 1 and int(getattr(datasets[0], "NumberOfFrames", 1)) > 1:
        # One enhanced multi-frame file: frames ordered by position along the normal.
        ds = datasets[0]
        shared = ds.SharedFunctionalGroupsSequence[0]
        iop = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
        normal = np.cross(iop[:3], iop[3:])
        positions = [np.array(f.PlanePositionSequence[0].ImagePositionPatient, float) for f in ds.PerFrameFunctionalGroupsSequence]
        order = sorted(range(len(positions)), key=lambda k: float(np.dot(positions[k], normal)))
        pixels = seg.get_pixels_by_source_frame(source_sop_instance_uid=ds.SOPInstanceUID,
                                                source_frame_numbers=[k + 1 for k in order], combine_segments=combine,
                                                relabel=False, skip_overlap_checks=True)
    else:
        row = np.array(datasets[0].ImageOrientationPatient[:3], float)
        col = np.array(datasets[0].ImageOrientationPatient[3:], float)
        normal = np.cross(row, col)
        datasets.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), normal)))
        uids = [d.SOPInstanceUID for d in datasets]
        pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, combine_segments=combine,
                                                    relabel=False, skip_overlap_checks=True)
    if fractional:
        # pixels: (slices, rows, columns, segments) of probabilities.
        theirs = np.transpose(np.asarray(pixels, dtype=np.float64), (2, 1, 0, 3))
        ours = np.asarray(nib.load(labels_path).dataobj, dtype=np.float64)
        if ours.ndim == 3:
            ours = ours[..., None]
        print(json.dumps({"maxDifference": float(np.abs(theirs - np.clip(ours, 0, 1)).max()), "frames": int(seg.NumberOfFrames),
                          "segmentationType": str(seg.SegmentationType), "fractionalType": str(seg.SegmentationFractionalType)}))
        return
    # pixels: (slices, rows, columns) of segment numbers.
    ours = np.asarray(nib.load(labels_path).dataobj)
    present = sorted(int(v) for v in np.unique(ours) if v > 0)
    mapped = np.zeros_like(pixels, dtype=np.int64)
    for number, value in enumerate(present, start=1):
        mapped[pixels == number] = value
    theirs = np.transpose(mapped, (2, 1, 0))  # -> x (column), y (row), z (slice)
    differing = int(np.count_nonzero(theirs != ours))
    segments = []
    for desc in seg.SegmentSequence:
        segments.append({
            "number": int(desc.SegmentNumber), "label": str(desc.SegmentLabel),
            "category": str(desc.SegmentedPropertyCategoryCodeSequence[0].CodeValue),
            "type": str(desc.SegmentedPropertyTypeCodeSequence[0].CodeValue),
            "typeMeaning": str(desc.SegmentedPropertyTypeCodeSequence[0].CodeMeaning),
            "algorithm": str(getattr(desc, "SegmentAlgorithmName", "")),
            "cielab": [int(v) for v in desc.RecommendedDisplayCIELabValue],
        })
    print(json.dumps({"segments": segments, "frames": int(seg.NumberOfFrames), "differing": differing,
                      "voxels": int(ours.size), "labelValues": present,
                      "frameOfReference": str(seg.FrameOfReferenceUID), "study": str(seg.StudyInstanceUID),
                      "patientID": str(seg.PatientID), "referencedSeries": str(seg.ReferencedSeriesSequence[0].SeriesInstanceUID)}))


if __name__ == "__main__":
    main()
