#!/usr/bin/env python3
"""Writes a DICOM SEG with highdicom (an independent writer) from a label map on a series' grid.

  make_seg.py SERIES_DIR LABELS.nii.gz OUT.dcm binary|labelmap|fractional

LABELS (read by nibabel; x = column, y = row, z = slice along the normal) holds label values; segment N is
the N-th label value present, in increasing order, named "Structure <value>". For `fractional` each segment's
frames hold 1.0 inside and 0.0 outside (one probability map per segment). Prints JSON: segment numbers and
the label value each stands for, and the number of frames written.
"""
import json
import os
import sys

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
from pydicom.sr.codedict import codes


def main():
    series_dir, labels_path, out, kind = sys.argv[1:5]
    datasets = [pydicom.dcmread(os.path.join(series_dir, f)) for f in sorted(os.listdir(series_dir))]
    iop = np.array(datasets[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), normal)))
    labels = np.asarray(nib.load(labels_path).dataobj).astype(np.int64)
    stack = np.transpose(labels, (2, 1, 0))  # -> slice, row, column
    values = sorted(int(v) for v in np.unique(stack) if v > 0)
    numbered = np.zeros(stack.shape, dtype=np.uint16)
    for number, value in enumerate(values, start=1):
        numbered[stack == value] = number
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number, segment_label=f"Structure {value}",
            segmented_property_category=codes.SCT.Tissue, segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=hd.AlgorithmIdentificationSequence(
                name="oracle", version="1", family=codes.cid7162.ArtificialIntelligence))
        for number, value in enumerate(values, start=1)]
    if kind == "fractional":
        pixels = np.stack([(numbered == n).astype(np.float32) for n in range(1, len(values) + 1)], axis=-1)
        seg_type = hd.seg.SegmentationTypeValues.FRACTIONAL
    else:
        pixels = numbered
        seg_type = hd.seg.SegmentationTypeValues.LABELMAP if kind == "labelmap" else hd.seg.SegmentationTypeValues.BINARY
    seg = hd.seg.Segmentation(
        source_images=datasets, pixel_array=pixels, segmentation_type=seg_type,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=400,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="oracle", manufacturer_model_name="highdicom",
        software_versions=hd.__version__, device_serial_number="1")
    seg.save_as(out)
    print(json.dumps({"segments": {str(n): v for n, v in enumerate(values, start=1)}, "frames": int(seg.NumberOfFrames),
                      "sopClass": str(seg.SOPClassUID)}))


if __name__ == "__main__":
    main()
