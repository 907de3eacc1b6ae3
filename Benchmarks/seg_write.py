#!/usr/bin/env python3
"""DICOM SEG benchmark: VoxelFlow vs highdicom and dcmqi writing and reading SEGs of the same label map on the
same series, in the same run.

The series: the Colin27 T1 (`nifti/colin27/ch2.nii.gz` of the shared corpus) written by pydicom as 181 axial
MR slices. The label map: the 116-label AAL atlas on that grid.
- Write BINARY (one segment per label, empty frames left out) and LABELMAP: `voxelflow export-seg` vs
  highdicom's `Segmentation` (+ `save_as`) vs dcmqi's `itkimage2segimage`.
- Read back to a label map on the series grid: `voxelflow convert SEG --reference SERIES` vs highdicom's
  `segread` + `get_pixels_by_source_instance` (segments combined) vs dcmqi's `segimage2itkimage`
  (`--mergeSegments`), each reading the SEG it wrote.
highdicom is timed twice: on source datasets already in memory (its library call alone; nothing written when
reading), and as the whole task a script does in a running interpreter ("highdicom_files": the series and label
map read from disk and the SEG saved; the SEG read, the series' headers read and the label map saved as NIfTI).
VoxelFlow's and dcmqi's figures are whole commands, process start included; VoxelFlow is also timed as a
library call ("voxelflow_library": `voxelflow-bench seg-write|seg-read`, the label map in memory and the series
already scanned), the counterpart of highdicom in memory.
VoxelFlow's SEGs are read by highdicom and must equal the label map voxel for voxel; VoxelFlow's reading of
its BINARY SEG must equal the label map too.

Usage: seg_write.py VOXELFLOW CORPUS WORKDIR [--repeat N]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from benchlib import best_of


def make_series(ch2, out):
    """Axial slices of the RAS volume: row direction L (+x LPS), column direction P (+y LPS)."""
    os.makedirs(out, exist_ok=True)
    data = np.asarray(ch2.dataobj)
    affine = ch2.affine
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    nx, ny, nz = data.shape
    for k in range(nz):
        # RAS voxel (i, j, k) -> pixel: rows follow P (j reversed), columns follow L (i reversed).
        pixels = data[::-1, ::-1, k].T.astype(np.uint16)  # rows = y (P), columns = x (L)
        corner = affine @ np.array([nx - 1, ny - 1, k, 1.0])  # RAS of the first pixel
        lps = [-corner[0], -corner[1], corner[2]]
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Colin27", "COLIN27", "", "M"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "20000101", "000000", "", "1", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", 1, k + 1
        ds.Manufacturer, ds.PositionReferenceIndicator = "", ""
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in lps]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.PixelSpacing = ["1", "1"]
        ds.SliceThickness = "1"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = pixels.tobytes()
        ds.save_as(os.path.join(out, f"IM{k:04d}.dcm"), enforce_file_format=True)


def main():
    voxelflow, corpus, work = sys.argv[1:4]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    ch2 = nib.load(os.path.join(corpus, "nifti/colin27/ch2.nii.gz"))
    aal = nib.load(os.path.join(corpus, "nifti/colin27/aal.nii.gz"))
    series = os.path.join(work, "colin27_series")
    if not os.path.isdir(series):
        make_series(ch2, series)
    # The label map on the series' grid, in the layout `voxelflow convert` gives the series.
    converted = os.path.join(work, "colin27_series.nii.gz")
    subprocess.run([voxelflow, "convert", series, converted, "--force", "-q"], check=True)
    grid = nib.load(converted)
    labels = np.asarray(aal.dataobj)[::-1, ::-1, :].astype(np.uint8)  # RAS -> the series' (L, P, S) axes
    labels_path = os.path.join(work, "aal_on_series.nii.gz")
    nib.save(nib.Nifti1Image(labels, grid.affine), labels_path)
    values = sorted(int(v) for v in np.unique(labels) if v > 0)

    python = sys.executable
    bindir = os.path.dirname(python)
    files = sorted(os.path.join(series, f) for f in os.listdir(series))
    sources = [pydicom.dcmread(f) for f in files]
    sources.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    # highdicom takes (frames, rows, columns) of segment numbers; segment n is label values[n-1].
    numbers = np.zeros(labels.shape, dtype=np.uint8)
    for n, v in enumerate(values, start=1):
        numbers[labels == v] = n
    pixel_array = np.transpose(numbers, (2, 1, 0))
    algorithm = hd.AlgorithmIdentificationSequence(name="atlas", family=hd.sr.CodedConcept("123109", "DCM", "Manual Processing"), version="1")
    descriptions = [hd.seg.SegmentDescription(
        segment_number=n, segment_label=f"Label {v}",
        segmented_property_category=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
        segmented_property_type=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm)
        for n, v in enumerate(values, start=1)]
    # dcmqi's metadata: one entry per label value.
    code = {"CodeValue": "85756007", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Tissue"}
    meta = {"ContentCreatorName": "bench", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
            "SeriesDescription": "bench", "SeriesNumber": "300", "InstanceNumber": "1", "BodyPartExamined": "",
            "segmentAttributes": [[{"labelID": v, "SegmentLabel": f"Label {v}", "SegmentAlgorithmType": "AUTOMATIC",
                                    "SegmentAlgorithmName": "atlas", "SegmentedPropertyCategoryCodeSequence": code,
                                    "SegmentedPropertyTypeCodeSequence": code} for v in values]]}
    meta_path = os.path.join(work, "aal_dcmqi_meta.json")
    with open(meta_path, "w") as f:
        json.dump(meta, f)

    results = {}
    for kind in ("binary", "labelmap"):
        seg_type = hd.seg.SegmentationTypeValues.BINARY if kind == "binary" else hd.seg.SegmentationTypeValues.LABELMAP
        ours = os.path.join(work, f"aal_voxelflow_{kind}.dcm")
        theirs = os.path.join(work, f"aal_highdicom_{kind}.dcm")
        dcmqi = os.path.join(work, f"aal_dcmqi_{kind}.dcm")

        def write_ours():
            subprocess.run([voxelflow, "export-seg", labels_path, "--reference", series, "-o", ours, "--type", kind, "--force", "-q"], check=True)

        def write_highdicom():
            seg = hd.seg.Segmentation(source_images=sources, pixel_array=pixel_array, segmentation_type=seg_type,
                                      segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=300,
                                      sop_instance_uid=generate_uid(), instance_number=1, manufacturer="bench",
                                      manufacturer_model_name="bench", software_versions="1", device_serial_number="1",
                                      omit_empty_frames=True)
            seg.save_as(theirs)

        def write_dcmqi():
            subprocess.run([os.path.join(bindir, "itkimage2segimage"), "--inputImageList", labels_path, "--inputDICOMDirectory", series,
                            "--inputMetadata", meta_path, "--outputDICOM", dcmqi, "--segmentationType", kind],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def write_highdicom_files():
            # The whole task as a script does it, in a running interpreter: the series and the label map read
            # from disk, segment numbers assigned, the SEG built and saved.
            loaded = sorted((pydicom.dcmread(f) for f in files), key=lambda d: float(d.ImagePositionPatient[2]))
            on_disk = np.asarray(nib.load(labels_path).dataobj)
            lookup = np.zeros(int(on_disk.max()) + 1, dtype=np.uint8)
            for n, v in enumerate(values, start=1):
                lookup[v] = n
            seg = hd.seg.Segmentation(source_images=loaded, pixel_array=np.transpose(lookup[on_disk], (2, 1, 0)),
                                      segmentation_type=seg_type,
                                      segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=300,
                                      sop_instance_uid=generate_uid(), instance_number=1, manufacturer="bench",
                                      manufacturer_model_name="bench", software_versions="1", device_serial_number="1",
                                      omit_empty_frames=True)
            seg.save_as(theirs)

        _, w_ours = best_of(repeat, write_ours)
        # The library call alone (label map in memory, series already scanned), as highdicom "in memory".
        bench = os.path.join(os.path.dirname(voxelflow), "voxelflow-bench")
        w_lib = json.loads(subprocess.run([bench, "seg-write", labels_path, series, ours, "--type", kind, "--repeat", str(repeat)],
                                          check=True, capture_output=True, text=True).stdout)["times"]
        _, w_hd = best_of(repeat, write_highdicom)
        _, w_hd_files = best_of(repeat, write_highdicom_files)
        _, w_dq = best_of(repeat, write_dcmqi)

        read_ours_path = os.path.join(work, f"aal_voxelflow_{kind}_read.nii.gz")

        def read_ours():
            subprocess.run([voxelflow, "convert", ours, read_ours_path, "--reference", series, "--force", "-q"], check=True)

        uids = [d.SOPInstanceUID for d in sources]

        def read_highdicom():
            seg = hd.seg.segread(theirs)
            seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, combine_segments=True, relabel=False,
                                              skip_overlap_checks=True)

        def read_dcmqi():
            with tempfile.TemporaryDirectory() as out:
                subprocess.run([os.path.join(bindir, "segimage2itkimage"), "--inputDICOM", dcmqi, "--outputDirectory", out,
                                "--outputType", "nifti", "--mergeSegments"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        read_highdicom_path = os.path.join(work, f"aal_highdicom_{kind}_read.nii.gz")

        def read_highdicom_files():
            # The whole task: the series' headers read for its instances and grid, the SEG decoded onto them
            # and the label map saved as NIfTI.
            headers = sorted((pydicom.dcmread(f, stop_before_pixels=True) for f in files), key=lambda d: float(d.ImagePositionPatient[2]))
            seg = hd.seg.segread(theirs)
            volume = seg.get_pixels_by_source_instance(source_sop_instance_uids=[d.SOPInstanceUID for d in headers],
                                                       combine_segments=True, relabel=False, skip_overlap_checks=True)
            nib.save(nib.Nifti1Image(np.ascontiguousarray(np.transpose(volume, (2, 1, 0))).astype(np.uint8), grid.affine), read_highdicom_path)

        _, r_ours = best_of(repeat, read_ours)
        r_lib = json.loads(subprocess.run([bench, "seg-read", ours, series, "--repeat", str(repeat)],
                                          check=True, capture_output=True, text=True).stdout)["times"]
        _, r_hd = best_of(repeat, read_highdicom)
        _, r_hd_files = best_of(repeat, read_highdicom_files)
        _, r_dq = best_of(repeat, read_dcmqi)

        check = subprocess.run([python, os.path.join(os.path.dirname(__file__), "..", "scripts", "oracles", "seg_reference.py"),
                                ours, series, labels_path], check=True, capture_output=True, text=True)
        ours_by_highdicom = json.loads(check.stdout)
        back = np.asarray(nib.load(read_ours_path).dataobj)
        differing_read = int(np.count_nonzero(back != numbers))
        results[kind] = {
            "write_s": {"voxelflow": w_ours, "voxelflow_library": w_lib, "highdicom": w_hd, "highdicom_files": w_hd_files, "dcmqi": w_dq},
            "write_ratio_best": {"vs_highdicom": min(w_hd) / min(w_ours), "vs_highdicom_files": min(w_hd_files) / min(w_ours),
                                 "vs_dcmqi": min(w_dq) / min(w_ours), "library_vs_highdicom": min(w_hd) / min(w_lib)},
            "read_s": {"voxelflow": r_ours, "voxelflow_library": r_lib, "highdicom": r_hd, "highdicom_files": r_hd_files, "dcmqi": r_dq},
            "read_ratio_best": {"vs_highdicom": min(r_hd) / min(r_ours), "vs_highdicom_files": min(r_hd_files) / min(r_ours),
                                "vs_dcmqi": min(r_dq) / min(r_ours), "library_vs_highdicom": min(r_hd) / min(r_lib)},
            "highdicom_files_read_differing_voxels": int(np.count_nonzero(np.asarray(nib.load(read_highdicom_path).dataobj) != numbers)),
            "frames": {"voxelflow": ours_by_highdicom["frames"],
                       "highdicom": int(pydicom.dcmread(theirs, stop_before_pixels=True).NumberOfFrames),
                       "dcmqi": int(pydicom.dcmread(dcmqi, stop_before_pixels=True).NumberOfFrames)},
            "voxelflow_seg_differing_voxels_by_highdicom": ours_by_highdicom["differing"],
            "voxelflow_read_differing_voxels": differing_read,
            "sizes_bytes": {"voxelflow": os.path.getsize(ours), "highdicom": os.path.getsize(theirs), "dcmqi": os.path.getsize(dcmqi)},
        }
    print(json.dumps({
        "benchmark": "DICOM SEG write and read, 116 AAL labels on Colin27 (181 slices of 217x181)",
        "segments": len(values), "repeat": repeat, "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
