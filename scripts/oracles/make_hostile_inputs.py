#!/usr/bin/env python3
"""Builds the oversized inputs of the memory measurements (scripts/measure_hostile_inputs.sh) into OUT:
  huge_header.nii        a NIfTI-1 header claiming 2048 x 1024 x 1024 int16 voxels (4 GiB) in a 352-byte file
  pipeline_10000.json    a valid pipeline of 10,000 stages (a chain of scale-intensity-range stages)
  frames_65535.dcm       an Enhanced CT image of 65,535 frames of 2 x 2 voxels, with per-frame positions
  labels_10000.nii.gz    a 100 x 100 x 1 label map holding the labels 1 to 10,000 (for a 10,000-segment SEG)
Usage: .venv-oracles/bin/python scripts/oracles/make_hostile_inputs.py OUT
"""
import json
import pathlib
import sys

import nibabel as nb
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)

header = nb.Nifti1Header()
header.set_data_shape((2048, 1024, 1024))
header.set_data_dtype(np.int16)
header["vox_offset"] = 352
(out / "huge_header.nii").write_bytes(header.binaryblock + b"\0\0\0\0")

stages = [{"id": f"s{n}", "type": "scale-intensity-range", "source": "ct" if n == 0 else f"s{n - 1}", "aMin": 0, "aMax": 100, "bMin": 0, "bMax": 100}
          for n in range(10000)]
(out / "pipeline_10000.json").write_text(json.dumps({
    "voxelflow": 1, "name": "ten-thousand-stages",
    "inputs": {"ct": {"type": "nifti", "pattern": "*.nii.gz"}}, "stages": stages}))

frames = 65535
ds = Dataset()
ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT Image Storage
ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid(), generate_uid()
ds.FrameOfReferenceUID = generate_uid()
ds.Modality, ds.PatientID, ds.PatientName = "CT", "HOSTILE", "Hostile^Frames"
ds.Rows, ds.Columns, ds.NumberOfFrames = 2, 2, frames
ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
shared = Dataset()
measures = Dataset()
measures.PixelSpacing, measures.SliceThickness = [1, 1], 1
orient = Dataset()
orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
shared.PixelMeasuresSequence = Sequence([measures])
shared.PlaneOrientationSequence = Sequence([orient])
ds.SharedFunctionalGroupsSequence = Sequence([shared])
per_frame = []
for k in range(frames):
    item, position = Dataset(), Dataset()
    position.ImagePositionPatient = [0, 0, k]
    item.PlanePositionSequence = Sequence([position])
    per_frame.append(item)
ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
ds.PixelData = (np.arange(frames * 4) % 1000).astype(np.int16).tobytes()
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.file_meta = meta
ds.preamble = b"\0" * 128
pydicom.dcmwrite(out / "frames_65535.dcm", ds, enforce_file_format=True)

labels = np.arange(1, 10001, dtype=np.uint16).reshape(100, 100, 1)
nb.save(nb.Nifti1Image(labels, np.eye(4)), out / "labels_10000.nii.gz")
print("written to", out)
