#!/usr/bin/env python3
"""Side-by-side DICOM benchmark: VoxelFlow vs SimpleITK, pydicom and dcm2niix on the same series, same run.

Makes (once, into WORKDIR) a 512x512x324 CT series by trilinear upsampling of the real head CT and writing
it with pydicom as explicit-VR little-endian files (uint16 stored, RescaleIntercept -1024), plus 1,000- and
10,000-file archives of small images for the scan test. Then, best of N runs each:
  load   : SimpleITK ImageSeriesReader (GDCM file sorting + read), pydicom (read + sort by position + stack),
           voxelflow-bench dicom-load (scan + assemble + decode) — all must give identical HU
  convert: `dcm2niix -z y` vs `voxelflow convert DIR OUT.nii.gz` (whole processes); nibabel checks both
           outputs hold the same HU on the same world grid
  scan   : voxelflow-bench dicom-scan of 1,000 and 10,000 files (per-file time should stay flat)
Usage: dicom_io.py VOXELFLOW_BENCH VOXELFLOW SOURCE_CT TEMPLATE_DCM WORKDIR [--repeat N]
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys

import nibabel as nib
import numpy as np

from benchlib import best_of
import pydicom
from pydicom.uid import generate_uid


def write_series(hu, spacing, origin, template, out_dir, series_uid, description):
    os.makedirs(out_dir, exist_ok=True)
    ds0 = pydicom.dcmread(template)
    nx, ny, nz = hu.shape
    stored = np.clip(hu.astype(np.int32) + 1024, 0, 4095).astype(np.uint16)
    for k in range(nz):
        ds = ds0.copy()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesDescription = description
        ds.Rows, ds.Columns = ny, nx
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.ImagePositionPatient = [f"{origin[0]:.6f}", f"{origin[1]:.6f}", f"{origin[2] + k * spacing[2]:.6f}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.InstanceNumber = k + 1
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()  # rows (y) by columns (x)
        ds.save_as(os.path.join(out_dir, f"IM{k + 1:05d}.dcm"), enforce_file_format=True)


def make_inputs(source, template, work):
    big_dir = os.path.join(work, "ct_series_512")
    if not os.path.exists(os.path.join(big_dir, "IM00324.dcm")):
        from scipy import ndimage
        src = nib.load(source)
        data = np.asanyarray(src.dataobj).astype(np.float32)
        zoom = (512 / data.shape[0], 512 / data.shape[1], 324 / data.shape[2])
        hu = np.rint(ndimage.zoom(data, zoom, order=1)).astype(np.int16)
        zooms = np.array(src.header.get_zooms()[:3]) / np.array(zoom)
        # ct_head_hu is LPS-ordered (RAS affine with negative x/y): its LPS origin is (-x, -y, z).
        origin = [-src.affine[0, 3], -src.affine[1, 3], src.affine[2, 3]]
        write_series(hu, zooms, origin, template, big_dir, generate_uid(), "benchmark CT 512x512x324")
    for count in (1000, 10000):
        d = os.path.join(work, f"scan_{count}")
        if os.path.exists(os.path.join(d, f"s{count // 100 - 1:03d}", "IM00100.dcm")):
            continue
        small = np.zeros((64, 64, 100), dtype=np.int16)
        for s in range(count // 100):
            write_series(small, (1.0, 1.0, 2.0), (0, 0, 0), template, os.path.join(d, f"s{s:03d}"), generate_uid(), f"scan {s}")
    return big_dir


def main():
    bench, voxelflow, source, template, work = sys.argv[1:6]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    os.makedirs(work, exist_ok=True)
    series = make_inputs(source, template, work)
    med = statistics.median
    result = {"input": {"files": len(glob.glob(series + "/*.dcm")), "shape": [512, 512, 324]}}

    # Load
    import SimpleITK as sitk
    holder = {}

    def sitk_load():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(series))
        holder["sitk"] = reader.Execute()

    def pydicom_load():
        dss = [pydicom.dcmread(f) for f in glob.glob(series + "/*.dcm")]
        normal = np.cross(np.array(dss[0].ImageOrientationPatient[:3], float), np.array(dss[0].ImageOrientationPatient[3:], float))
        dss.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
        holder["pydicom"] = np.stack([d.pixel_array.astype(np.int16) * int(d.RescaleSlope) + int(d.RescaleIntercept) for d in dss])

    sitk_best, sitk_runs = best_of(repeat, sitk_load)
    pyd_best, pyd_runs = best_of(repeat, pydicom_load)
    dump = os.path.join(work, "voxelflow_dicom.raw")
    vf = json.loads(subprocess.run([bench, "dicom-load", series, "--repeat", str(repeat), "--dump", dump],
                                   check=True, capture_output=True, text=True).stdout)
    ours = np.fromfile(dump, dtype="<i2").reshape((324, 512, 512))  # z, y, x
    os.remove(dump)
    theirs = sitk.GetArrayFromImage(holder["sitk"])  # z, y, x
    result["load"] = {
        "simpleitk_s": sitk_best, "pydicom_s": pyd_best, "voxelflow_s": vf["best"],
        "speedup_vs_simpleitk": sitk_best / vf["best"], "speedup_vs_pydicom": pyd_best / vf["best"],
        "median_speedup_vs_simpleitk": med(sitk_runs) / med(vf["times"]),
        "identical_to_simpleitk": bool(np.array_equal(ours, theirs.astype(np.int16))),
        "identical_to_pydicom": bool(np.array_equal(ours, holder["pydicom"])),
        "simpleitk_runs": sitk_runs, "pydicom_runs": pyd_runs, "voxelflow_runs": vf["times"],
    }

    # Convert to .nii.gz, whole processes
    out_d, out_v = os.path.join(work, "dcm2niix_out"), os.path.join(work, "voxelflow_out.nii.gz")

    def run_dcm2niix():
        shutil.rmtree(out_d, ignore_errors=True)
        os.makedirs(out_d)
        subprocess.run(["dcm2niix", "-z", "y", "-b", "n", "-f", "ct", "-o", out_d, series], check=True, capture_output=True)

    def run_voxelflow():
        subprocess.run([voxelflow, "convert", series, out_v, "--quiet"], check=True, capture_output=True)

    d_best, d_runs = best_of(repeat, run_dcm2niix)
    v_best, v_runs = best_of(repeat, run_voxelflow)
    a, b = nib.load(os.path.join(out_d, "ct.nii.gz")), nib.load(out_v)
    o = nib.orientations.ornt_transform(nib.io_orientation(b.affine), nib.io_orientation(a.affine))
    bd = nib.orientations.apply_orientation(np.asanyarray(b.dataobj), o)
    baff = b.affine @ nib.orientations.inv_ornt_aff(o, b.shape)
    result["convert"] = {
        "dcm2niix_s": d_best, "voxelflow_s": v_best, "speedup": d_best / v_best,
        "median_speedup": med(d_runs) / med(v_runs),
        "dcm2niix_bytes": os.path.getsize(os.path.join(out_d, "ct.nii.gz")), "voxelflow_bytes": os.path.getsize(out_v),
        "same_grid_mm": float(np.abs(baff - a.affine).max()),
        "identical_hu": bool(np.array_equal(bd, np.asanyarray(a.dataobj))),
        "dcm2niix_runs": d_runs, "voxelflow_runs": v_runs,
    }

    # Scan scaling
    scans = {}
    for count in (1000, 10000):
        s = json.loads(subprocess.run([bench, "dicom-scan", os.path.join(work, f"scan_{count}"), "--repeat", str(repeat)],
                                      check=True, capture_output=True, text=True).stdout)
        scans[count] = {"seconds": s["best"], "files": s["files"], "stacks": s["stacks"], "us_per_file": s["best"] / s["files"] * 1e6}
    result["scan"] = scans
    result["versions"] = {"SimpleITK": sitk.Version_VersionString(), "pydicom": pydicom.__version__, "nibabel": nib.__version__,
                          "dcm2niix": subprocess.run(["dcm2niix", "-v"], capture_output=True, text=True).stdout.strip().splitlines()[-1]}
    print(json.dumps(result, indent=2))
    L, C = result["load"], result["convert"]
    print(f"load   : SimpleITK {L['simpleitk_s']:.3f} s, pydicom {L['pydicom_s']:.3f} s, voxelflow {L['voxelflow_s']:.3f} s -> "
          f"{L['speedup_vs_simpleitk']:.2f}x SimpleITK (median {L['median_speedup_vs_simpleitk']:.2f}x), {L['speedup_vs_pydicom']:.2f}x pydicom "
          f"(identical HU: SimpleITK {L['identical_to_simpleitk']}, pydicom {L['identical_to_pydicom']})", file=sys.stderr)
    print(f"convert: dcm2niix -z y {C['dcm2niix_s']:.3f} s, voxelflow {C['voxelflow_s']:.3f} s -> {C['speedup']:.2f}x "
          f"(median {C['median_speedup']:.2f}x; same grid within {C['same_grid_mm']:.2g} mm, identical HU {C['identical_hu']})", file=sys.stderr)
    print(f"scan   : 1,000 files {scans[1000]['seconds']:.3f} s ({scans[1000]['us_per_file']:.0f} us/file), "
          f"10,000 files {scans[10000]['seconds']:.3f} s ({scans[10000]['us_per_file']:.0f} us/file)", file=sys.stderr)


if __name__ == "__main__":
    main()
