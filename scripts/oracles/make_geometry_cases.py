#!/usr/bin/env python3
"""Builds DICOM geometry test cases from a real axial series, with the expected geometry computed here,
independently of VoxelFlow.

  oblique: every slice rotated rigidly about the world origin (20 degrees about x, then 10 about z):
           ImageOrientationPatient and ImagePositionPatient both rotated. Prints the expected voxel->LPS
           affine of the assembled volume as JSON (4 rows).
  pet:     the slices relabelled as a PET series (Units BQML, per-slice RescaleSlope, F-18 injection 65 minutes
           before SeriesTime, DecayCorrection START, PatientWeight 72.5 kg). Writes expected_suv.f32 (float32,
           x fastest, slices in position order) with SUVbw computed here. "pet-noweight": same without
           PatientWeight.
  mosaic:  the 16 slices tiled 4x4 into one Siemens MOSAIC image (ImageType MOSAIC, CSA image header with
           NumberOfImagesInMosaic and SliceNormalVector, ImagePositionPatient of the whole mosaic grid).
           De-tiled, it must give back the original slices and their affine.
  repeat:  the series written twice with the same positions, AcquisitionNumber 1 and 2 (new SOP instances).
  tilt:    ImagePositionPatient shifted along y by k * spacing * tan(15 degrees) for slice k, orientation
           unchanged, GantryDetectorTilt 15: a gantry-tilted (sheared) stack. Also writes expected_tilt.f32, the
           stack resliced onto an orthogonal grid computed here from the positions (see expected_tilt_correction),
           and prints {"tilt_degrees": 15, "size": [...], "affine": [...]}.

  shared-uid: the first 8 slices as patient A, the last 8 as patient B, all with one SeriesInstanceUID (as broken
           exports and anonymisers produce): must become two stacks, never one volume of two patients.
  long-uid: two series of 8 slices whose SeriesInstanceUIDs are 70 characters long (non-conformant) and share
           their first 64: a reader that truncates UIDs to 64 characters merges them.
  mixed:   a study as scanners write it: the axial series (ORIGINAL\PRIMARY\AXIAL, 16 slices of 1.5 mm,
           "Head 1.5mm", BodyPartExamined HEAD, ProtocolName "Head routine"), a one-slice sagittal localizer
           (ORIGINAL\PRIMARY\LOCALIZER, "Scout") and a derived reformat of every other slice (DERIVED\SECONDARY,
           "MPR 3mm"). Prints the series descriptions.

  dwi, fmri, fmri-acquisition, dwi-b0: three volumes over the same positions (see the code): one 4D stack each.
  enhanced-dwi, enhanced-fmri: the dwi case as one Enhanced MR Image file with per-frame MR Diffusion
           sequences, or with per-frame TemporalPositionIndex only.

Usage: make_geometry_cases.py SRC_DIR OUT_DIR oblique|tilt|pet|pet-noweight|mosaic|repeat|dwi|dwi-b0|enhanced-dwi|enhanced-fmri|fmri|fmri-acquisition|shared-uid|long-uid|mixed
"""
import json
import math
import os
import sys

import numpy as np
import pydicom


def ds_text(v):
    return f"{v:.8f}"


def rotation():
    a, b = math.radians(20), math.radians(10)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    rz = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
    return rz @ rx


def main():
    src, out, case = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    files = sorted(f for f in os.listdir(src) if f.endswith(".dcm"))
    slices = [pydicom.dcmread(os.path.join(src, f)) for f in files]
    slices.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    row = np.array(slices[0].ImageOrientationPatient[:3], float)
    col = np.array(slices[0].ImageOrientationPatient[3:], float)
    normal = np.cross(row, col)
    dz = float(slices[1].ImagePositionPatient[2]) - float(slices[0].ImagePositionPatient[2])
    row_spacing, col_spacing = (float(v) for v in slices[0].PixelSpacing)
    r = rotation()
    if case.startswith("pet"):
        return make_pet(slices, out, with_weight=(case == "pet"))
    if case in ("dwi", "fmri", "fmri-acquisition", "dwi-b0"):
        # Three volumes over the same 16 positions, as single-frame MR files: volume v holds the sample slices
        # plus 100 * v (stored values). dwi: one AcquisitionNumber, b = 0, then b = 1000 along (1, 0, 0) and
        # along (0, 0.6, 0.8) in DiffusionBValue/DiffusionGradientOrientation. dwi-b0: b = 0 twice, then
        # b = 1000 along (1, 0, 0), one AcquisitionNumber. fmri: TemporalPositionIdentifier 1-3 and
        # RepetitionTime 2000 ms. fmri-acquisition: AcquisitionNumber 1-3, no TemporalPositionIdentifier,
        # described as a resting-state BOLD run.
        directions = [None, (1.0, 0.0, 0.0), (0.0, 0.6, 0.8)]
        if case == "dwi-b0":
            directions = [None, None, (1.0, 0.0, 0.0)]
        for v in range(3):
            for k, ds in enumerate(slices):
                d = pydicom.dcmread(os.path.join(src, files[0]))  # a fresh dataset per file
                d.PixelData = (ds.pixel_array.astype(np.uint16) + 100 * v).astype(np.uint16).tobytes()
                d.ImagePositionPatient = ds.ImagePositionPatient
                d.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
                d.file_meta.MediaStorageSOPClassUID = d.SOPClassUID
                d.Modality = "MR"
                d.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.4242.{v}.{k}"
                d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
                d.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.4242"
                d.InstanceNumber = v * len(slices) + k + 1
                d.AcquisitionNumber = v + 1 if case == "fmri-acquisition" else 1
                d.RepetitionTime = "2000"
                if case.startswith("dwi"):
                    d.add_new(0x00189087, "FD", 0.0 if directions[v] is None else 1000.0)
                    if directions[v] is not None:
                        d.add_new(0x00189089, "FD", list(directions[v]))
                elif case == "fmri":
                    d.TemporalPositionIdentifier = v + 1
                if case == "fmri-acquisition":
                    d.SeriesDescription = "ep2d_bold_rest"
                    d.ProtocolName = "ep2d_bold_rest"
                d.save_as(os.path.join(out, f"V{v}_{k:03d}.dcm"))
        print(json.dumps({"volumes": 3, "offset_per_volume": 100}))
        return
    if case in ("enhanced-dwi", "enhanced-fmri"):
        return make_enhanced(slices, files, src, out, diffusion=(case == "enhanced-dwi"))
    if case == "repeat":
        for acquisition in (1, 2):
            for k, ds in enumerate(slices):
                ds.AcquisitionNumber = str(acquisition)
                ds.SOPInstanceUID = pydicom.uid.generate_uid()
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.save_as(os.path.join(out, f"A{acquisition}_{k:03d}.dcm"))
        print(json.dumps({"acquisitions": 2}))
        return
    if case == "shared-uid":
        for k, ds in enumerate(slices):
            ds.PatientID = "PATIENT-A" if k < 8 else "PATIENT-B"
            ds.save_as(os.path.join(out, f"S{k:03d}.dcm"))
        print(json.dumps({"patients": ["PATIENT-A", "PATIENT-B"]}))
        return
    if case == "long-uid":
        prefix = "1.2.826.0.1.3680043.8.498." + "1" * (64 - len("1.2.826.0.1.3680043.8.498."))
        uids = [prefix + ".11111", prefix + ".22222"]
        for k, ds in enumerate(slices):
            ds.SeriesInstanceUID = uids[k % 2]
            ds.save_as(os.path.join(out, f"S{k:03d}.dcm"))
        print(json.dumps({"uids": uids}))
        return
    if case == "mixed":
        study = slices[0].StudyInstanceUID
        main_uid, scout_uid, mpr_uid = (pydicom.uid.generate_uid() for _ in range(3))
        for k, ds in enumerate(slices):
            ds.SeriesInstanceUID = main_uid
            ds.SeriesNumber = "2"
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.SeriesDescription = "Head 1.5mm"
            ds.BodyPartExamined = "HEAD"
            ds.ProtocolName = "Head routine"
            ds.save_as(os.path.join(out, f"AX{k:03d}.dcm"))
        for k, ds in enumerate(slices[::2]):
            ds = pydicom.dcmread(os.path.join(out, f"AX{2 * k:03d}.dcm"))
            ds.SeriesInstanceUID = mpr_uid
            ds.SeriesNumber = "3"
            ds.ImageType = ["DERIVED", "SECONDARY", "MPR"]
            ds.SeriesDescription = "MPR 3mm"
            ds.SliceThickness = "3"
            ds.SOPInstanceUID = pydicom.uid.generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(os.path.join(out, f"MPR{k:03d}.dcm"))
        ds = pydicom.dcmread(os.path.join(out, "AX008.dcm"))
        ds.SeriesInstanceUID = scout_uid
        ds.SeriesNumber = "1"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.SeriesDescription = "Scout"
        ds.ImageOrientationPatient = ["0", "1", "0", "0", "0", "-1"]
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        assert ds.StudyInstanceUID == study
        ds.save_as(os.path.join(out, "SCOUT.dcm"))
        print(json.dumps({"series": ["Scout", "Head 1.5mm", "MPR 3mm"]}))
        return
    if case == "mosaic":
        return make_mosaic(slices, out, row, col, normal, row_spacing, col_spacing, dz)
    for k, ds in enumerate(slices):
        ipp = np.array(ds.ImagePositionPatient, float)
        if case == "oblique":
            ds.ImageOrientationPatient = [ds_text(v) for v in np.concatenate([r @ row, r @ col])]
            ds.ImagePositionPatient = [ds_text(v) for v in r @ ipp]
        else:
            ipp = ipp + np.array([0, k * dz * math.tan(math.radians(15)), 0])
            ds.ImagePositionPatient = [ds_text(v) for v in ipp]
            ds.GantryDetectorTilt = "15"
        ds.save_as(os.path.join(out, f"S{(len(slices) - k) * 7 % 101:03d}.dcm"))  # scrambled names
    if case == "oblique":
        ipp0 = min((np.array(pydicom.dcmread(os.path.join(src, f)).ImagePositionPatient, float) for f in files), key=lambda p: p[2])
        affine = np.eye(4)
        affine[:3, 0] = r @ row * col_spacing
        affine[:3, 1] = r @ col * row_spacing
        affine[:3, 2] = r @ normal * dz
        affine[:3, 3] = r @ ipp0
        print(json.dumps({"affine": affine.tolist()}))
    else:
        print(json.dumps(dict(expected_tilt_correction(out), tilt_degrees=15)))


def expected_tilt_correction(out):
    """The tilted series written to OUT resliced onto the orthogonal grid of its rows, columns and normal,
    computed here from each file's ImagePositionPatient: output voxel (i, j, k) lies at
    origin + i * dx * row + j * dy * col + k * dz * normal and takes slice k's value at that point (bilinear in
    the slice's plane; the stack's minimum HU outside it). The grid starts at the first slice's position,
    moved back along row/col by the whole shift when the slices move towards -row/-col, and grows by the
    whole shift rounded up to pixels. Writes expected_tilt.f32 (float32 HU, i fastest, then j, then k) and
    returns the grid: {"size": [nx, ny, nz], "affine": LPS 4x4}."""
    files = [pydicom.dcmread(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".dcm")]
    row = np.array(files[0].ImageOrientationPatient[:3], float)
    col = np.array(files[0].ImageOrientationPatient[3:], float)
    normal = np.cross(row, col)
    files.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), normal)))
    positions = [np.array(d.ImagePositionPatient, float) for d in files]
    dy, dx = (float(v) for v in files[0].PixelSpacing)
    pixels = [d.pixel_array.astype(float) * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in files]
    ny, nx = pixels[0].shape
    step = (positions[-1] - positions[0]) / (len(files) - 1)
    dz = float(np.dot(step, normal))
    total_x = np.dot(positions[-1] - positions[0], row) / dx
    total_y = np.dot(positions[-1] - positions[0], col) / dy
    extra_x, extra_y = int(math.ceil(abs(total_x) - 1e-6)), int(math.ceil(abs(total_y) - 1e-6))
    start_x = -extra_x if total_x < 0 else 0
    start_y = -extra_y if total_y < 0 else 0
    origin = positions[0] + start_x * dx * row + start_y * dy * col
    size = [nx + extra_x, ny + extra_y, len(files)]
    fill = min(p.min() for p in pixels)
    result = np.full((size[2], size[1], size[0]), fill, dtype=np.float64)
    jj, ii = np.meshgrid(np.arange(size[1]), np.arange(size[0]), indexing="ij")
    for k, (p, image) in enumerate(zip(positions, pixels)):
        world = origin[:, None, None] + ii * dx * row[:, None, None] + jj * dy * col[:, None, None] + k * dz * normal[:, None, None]
        rel = world - p[:, None, None]
        x = np.tensordot(row, rel, axes=1) / dx
        y = np.tensordot(col, rel, axes=1) / dy
        inside = (x > -1e-6) & (x < nx - 1 + 1e-6) & (y > -1e-6) & (y < ny - 1 + 1e-6)
        x0 = np.clip(np.floor(x), 0, nx - 1).astype(int)
        y0 = np.clip(np.floor(y), 0, ny - 1).astype(int)
        x1, y1 = np.minimum(x0 + 1, nx - 1), np.minimum(y0 + 1, ny - 1)
        wx, wy = np.clip(x - x0, 0, 1), np.clip(y - y0, 0, 1)
        value = (image[y0, x0] * (1 - wx) + image[y0, x1] * wx) * (1 - wy) + (image[y1, x0] * (1 - wx) + image[y1, x1] * wx) * wy
        result[k][inside] = value[inside]
    result.astype("<f4").tofile(os.path.join(out, "expected_tilt.f32"))
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2], affine[:3, 3] = row * dx, col * dy, normal * dz, origin
    return {"size": size, "affine": affine.tolist()}


def make_enhanced(slices, files, src, out, diffusion):
    """The dwi case as one Enhanced MR Image: 48 frames, volume after volume, each frame's position in its
    Plane Position Sequence and its weighting in its MR Diffusion Sequence (b = 0; b = 1000 along (1, 0, 0);
    b = 1000 along (0, 0.6, 0.8)); orientation, spacing and rescale shared. Without `diffusion` (the
    enhanced-fmri case) the volumes are told apart only by each frame's TemporalPositionIndex."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    directions = [None, (1.0, 0.0, 0.0), (0.0, 0.6, 0.8)]
    d = pydicom.dcmread(os.path.join(src, files[0]))
    d.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    d.file_meta.MediaStorageSOPClassUID = d.SOPClassUID
    d.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    d.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.4243.1"
    d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
    d.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.4243"
    d.Modality = "MR"
    d.SeriesDescription = "enhanced dwi" if diffusion else "enhanced bold"
    d.PatientPosition = "HFS"
    d.ImageType = ["ORIGINAL", "PRIMARY", "DIFFUSION" if diffusion else "FMRI", "NONE"]
    d.InstanceNumber = 1
    d.RepetitionTime = "2000"
    d.NumberOfFrames = 3 * len(slices)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = slices[0].PixelSpacing
    measures.SliceThickness = slices[0].get("SliceThickness", "1")
    shared.PixelMeasuresSequence = Sequence([measures])
    orientation = Dataset()
    orientation.ImageOrientationPatient = slices[0].ImageOrientationPatient
    shared.PlaneOrientationSequence = Sequence([orientation])
    rescale = Dataset()
    rescale.RescaleSlope = d.get("RescaleSlope", "1")
    rescale.RescaleIntercept = d.get("RescaleIntercept", "0")
    rescale.RescaleType = "US"
    shared.PixelValueTransformationSequence = Sequence([rescale])
    d.SharedFunctionalGroupsSequence = Sequence([shared])
    frames, pixels = [], []
    for v in range(3):
        for k, ds in enumerate(slices):
            f = Dataset()
            position = Dataset()
            position.ImagePositionPatient = ds.ImagePositionPatient
            f.PlanePositionSequence = Sequence([position])
            content = Dataset()
            content.StackID = "1"
            content.InStackPositionNumber = k + 1
            if diffusion:
                content.DimensionIndexValues = [1, k + 1, 1 if v == 0 else 2, v + 1]
            else:
                content.DimensionIndexValues = [1, k + 1, v + 1]
                content.TemporalPositionIndex = v + 1
            f.FrameContentSequence = Sequence([content])
            if diffusion:
                weighting = Dataset()
                weighting.DiffusionBValue = 0.0 if directions[v] is None else 1000.0
                weighting.DiffusionDirectionality = "NONE" if directions[v] is None else "DIRECTIONAL"
                if directions[v] is not None:
                    g = Dataset()
                    g.DiffusionGradientOrientation = list(directions[v])
                    weighting.DiffusionGradientDirectionSequence = Sequence([g])
                f.MRDiffusionSequence = Sequence([weighting])
            frames.append(f)
            pixels.append((ds.pixel_array.astype(np.uint16) + 100 * v).astype(np.uint16))
    d.PerFrameFunctionalGroupsSequence = Sequence(frames)
    # Dimensions as scanners declare them: stack, position in the stack, b-value, gradient.
    dimensions = []
    pointers = ((0x00209056, 0x00209111), (0x00209057, 0x00209111))
    pointers += ((0x00189087, 0x00189117), (0x00189089, 0x00189076)) if diffusion else ((0x00209128, 0x00209111),)
    for pointer, group in pointers:
        item = Dataset()
        item.DimensionIndexPointer = pointer
        item.FunctionalGroupPointer = group
        dimensions.append(item)
    d.DimensionIndexSequence = Sequence(dimensions)
    for key in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "RescaleSlope",
                "RescaleIntercept", "RescaleType", "SliceLocation"):
        if key in d:
            delattr(d, key)
    d.PixelData = np.stack(pixels).tobytes()
    d.save_as(os.path.join(out, "ENHANCED.dcm"))
    print(json.dumps({"volumes": 3, "offset_per_volume": 100, "frames": 3 * len(slices)}))


def csa_header(tags):
    """A Siemens CSA header in the SV10 layout: (name, VR, [values as text])."""
    import struct
    out = b"SV10" + b"\x04\x03\x02\x01" + struct.pack("<II", len(tags), 77)
    for name, vr, values in tags:
        out += name.encode().ljust(64, b"\0") + struct.pack("<i", len(values)) + vr.encode().ljust(4, b"\0")
        out += struct.pack("<iii", 0, len(values), 77)
        for v in values:
            data = v.encode() + b"\0"
            out += struct.pack("<iiii", len(data), len(data), 77, len(data)) + data + b"\0" * ((4 - len(data) % 4) % 4)
    return out


def make_mosaic(slices, out, row, col, normal, row_spacing, col_spacing, dz):
    n = len(slices)
    side = math.ceil(math.sqrt(n))
    tile_rows, tile_cols = int(slices[0].Rows), int(slices[0].Columns)
    mosaic = np.zeros((tile_rows * side, tile_cols * side), dtype=np.uint16)
    for k, ds in enumerate(slices):
        r, c = divmod(k, side)
        mosaic[r * tile_rows:(r + 1) * tile_rows, c * tile_cols:(c + 1) * tile_cols] = ds.pixel_array
    ds = slices[0]
    first = np.array(ds.ImagePositionPatient, float)
    corner = first - row * col_spacing * (mosaic.shape[1] - tile_cols) / 2 - col * row_spacing * (mosaic.shape[0] - tile_rows) / 2
    ds.ImagePositionPatient = [ds_text(v) for v in corner]
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
    ds.Rows, ds.Columns = mosaic.shape
    ds.SpacingBetweenSlices = ds_text(dz)
    ds.PixelData = mosaic.tobytes()
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
    block.add_new(0x10, "OB", csa_header([("NumberOfImagesInMosaic", "US", [str(n)]),
                                           ("SliceNormalVector", "FD", [f"{v:.8f}" for v in normal])]))
    ds.save_as(os.path.join(out, "mosaic.dcm"), enforce_file_format=True)
    print(json.dumps({"tiles": n}))


def make_pet(slices, out, with_weight):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    weight, dose, half_life = 72.5, 3.7e8, 6586.2
    elapsed = 65 * 60.0  # 09:10:00 injection, 10:15:00 series
    factor = weight * 1000 / (dose * 2 ** (-elapsed / half_life))
    expected = []
    for k, ds in enumerate(slices):
        ds.Modality = "PT"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.Units = "BQML"
        if "RescaleType" in ds:
            del ds.RescaleType
        ds.DecayCorrection = "START"
        ds.SeriesDate = "20240101"
        ds.SeriesTime = "101500"
        if with_weight:
            ds.PatientWeight = str(weight)
        elif "PatientWeight" in ds:
            del ds.PatientWeight
        item = Dataset()
        item.RadionuclideTotalDose = str(dose)
        item.RadionuclideHalfLife = str(half_life)
        item.RadiopharmaceuticalStartTime = "091000.00"
        ds.RadiopharmaceuticalInformationSequence = Sequence([item])
        slope = 0.25 + 0.01 * k
        ds.RescaleSlope = f"{slope:.4f}"
        ds.RescaleIntercept = "0"
        stored = ds.pixel_array.astype(np.float64)  # rows x columns
        expected.append((stored * float(ds.RescaleSlope) * factor).astype(np.float32))
        ds.save_as(os.path.join(out, f"P{k:03d}.dcm"))
    np.stack(expected).tofile(os.path.join(out, "expected_suv.f32"))  # slice, row, column = x fastest
    print(json.dumps({"factor": factor}))


if __name__ == "__main__":
    main()
