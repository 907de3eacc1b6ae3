#!/usr/bin/env python3
"""Reads a TID 1500 measurement report with highdicom and measures the SEG it refers to independently.

  sr_reference.py SR.dcm SEG.dcm SERIES_DIR

highdicom parses the SR (`srread`, `MeasurementReport.from_sequence`) into its measurement groups: tracking
identifier, referenced SEG instance and segment number, finding, and each measurement's concept, unit,
derivation and value. Independently, highdicom reads the SEG onto the series' instances (pydicom, sorted
along the slice normal) and the series' pixels in modality units (RescaleSlope/Intercept), and computes for
every segment the voxel count, the volume (count x voxel volume) and the mean, population standard
deviation, minimum and maximum. Prints JSON {"sr": {...}, "groups": [...], "reference": {segment: {...}}}.
"""
import glob
import json
import os
import sys

import highdicom as hd
import numpy as np
import pydicom


def main():
    sr_path, seg_path, series_dir = sys.argv[1:4]
    sr = hd.sr.srread(sr_path)
    # The document's content tree is the report's root container.
    root = pydicom.Dataset()
    for keyword in ("ConceptNameCodeSequence", "ContentSequence", "ContinuityOfContent", "ValueType", "ContentTemplateSequence"):
        if keyword in sr:
            setattr(root, keyword, getattr(sr, keyword))
    report = hd.sr.MeasurementReport.from_sequence([root])
    groups = []
    for group in report.get_volumetric_roi_measurement_groups():
        segment = group.referenced_segment
        measurements = []
        for m in group.get_measurements():
            derivation = m.derivation.meaning if m.derivation is not None else None  # (121401, DCM) modifier
            measurements.append({
                "name": m.name.meaning, "unit": m.unit.value if m.unit is not None else None,
                "derivation": derivation, "value": float(m.value),
            })
        groups.append({
            "tracking_identifier": group.tracking_identifier,
            "segment": int(segment.referenced_segment_numbers[0]) if segment is not None else None,
            "seg_instance": segment.referenced_sop_instance_uid if segment is not None else None,
            "finding": group.finding_type.value if group.finding_type is not None else None,
            "measurements": measurements,
        })

    files = sorted(glob.glob(os.path.join(series_dir, "*")))
    series = [pydicom.dcmread(f) for f in files if pydicom.misc.is_dicom(f)]
    normal = np.cross(*np.array(series[0].ImageOrientationPatient, dtype=float).reshape(2, 3))
    series.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))))
    pixels = np.stack([d.pixel_array.astype(np.float64) * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0))
                       for d in series])
    seg = hd.seg.segread(seg_path)
    labels = seg.get_pixels_by_source_instance(source_sop_instance_uids=[d.SOPInstanceUID for d in series],
                                               combine_segments=True, relabel=False, skip_overlap_checks=True)
    positions = [np.array(d.ImagePositionPatient, dtype=float) for d in series]
    step = float(np.linalg.norm(positions[1] - positions[0])) if len(positions) > 1 else float(getattr(series[0], "SliceThickness", 1))
    spacing = [float(v) for v in series[0].PixelSpacing]
    voxel = spacing[0] * spacing[1] * step
    reference = {}
    for number in sorted(int(v) for v in np.unique(labels) if v > 0):
        inside = pixels[labels == number]
        reference[str(number)] = {
            "voxels": int(inside.size), "volume": inside.size * voxel, "mean": float(inside.mean()),
            "sd": float(inside.std()), "min": float(inside.min()), "max": float(inside.max()),
        }
    print(json.dumps({
        "sr": {"sop_class": sr.SOPClassUID, "study": sr.StudyInstanceUID, "patient": str(sr.PatientID),
               "evidence": [i.ReferencedSOPInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence
                            for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence]},
        "seg": {"instance": seg.SOPInstanceUID, "study": seg.StudyInstanceUID},
        "groups": groups, "reference": reference,
    }))


if __name__ == "__main__":
    main()
