"""Archive-scale scan: voxelflow scan with and without --cache vs pydicom and dcm2niix on the same archive.

Builds (once, under WORK) a nested archive of 100,000 DICOM files: 1,000 series of 100 slices of 16x16 pixels in
patient/study/series folders, written with pydicom from a real slice of the sample series as template. Then,
best of N runs each:
  pydicom  : (one run) walk the tree and dcmread(stop_before_pixels=True) every file, group by SeriesInstanceUID
  dcm2niix : (one run) dcm2niix -b o (sidecars only, no NIfTI) on the whole archive, output to a scratch folder
  voxelflow scan (no cache), voxelflow scan --cache on a new cache (builds it), again on the unchanged archive,
  and after 100 new files and 100 touched ones (a re-scan reads only those).
Usage: scan_cache.py VOXELFLOW TEMPLATE WORK [--repeat N] [--files N]
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pydicom
from pydicom.uid import generate_uid


def make_archive(template, root, files):
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker) and open(marker).read() == str(files):
        return
    shutil.rmtree(root, ignore_errors=True)
    base = pydicom.dcmread(template)
    base.Rows, base.Columns = 16, 16
    base.PixelData = (np.arange(256, dtype=np.uint16) % 1000).tobytes()
    per_series = 100
    for s in range(files // per_series):
        patient, study = s // 20, s // 5
        folder = os.path.join(root, f"P{patient:04d}", f"ST{study:05d}", f"SE{s:05d}")
        os.makedirs(folder, exist_ok=True)
        base.PatientID = f"PAT{patient:04d}"
        base.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.77.{study}"
        base.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.78.{s}"
        base.SeriesNumber = s % 100 + 1
        for k in range(per_series):
            base.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.79.{s}.{k}"
            base.file_meta.MediaStorageSOPInstanceUID = base.SOPInstanceUID
            base.InstanceNumber = k + 1
            base.ImagePositionPatient = [0, 0, 2.0 * k]
            base.save_as(os.path.join(folder, f"IM{k:04d}.dcm"), enforce_file_format=True)
    with open(marker, "w") as f:
        f.write(str(files))


def best(fn, repeat, name=""):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    print(f"{name:28s} best {min(times):8.3f} s  median {sorted(times)[len(times) // 2]:8.3f} s  -> {out}", file=sys.stderr, flush=True)
    return min(times), sorted(times)[len(times) // 2], out


def main():
    voxelflow, template, work = sys.argv[1:4]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    files = int(sys.argv[sys.argv.index("--files") + 1]) if "--files" in sys.argv else 100_000
    root = os.path.join(work, f"archive_{files}")
    t = time.perf_counter()
    make_archive(template, root, files)
    print(f"archive ready ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    extra = os.path.join(root, "P9999")
    shutil.rmtree(extra, ignore_errors=True)

    def pydicom_scan():
        series = {}
        for folder, _, names in os.walk(root):
            for n in names:
                if n.startswith("."):
                    continue
                d = pydicom.dcmread(os.path.join(folder, n), stop_before_pixels=True)
                series.setdefault(d.SeriesInstanceUID, []).append(float(d.ImagePositionPatient[2]))
        return len(series)

    scratch = os.path.join(work, "dcm2niix_out")

    def dcm2niix_scan():
        shutil.rmtree(scratch, ignore_errors=True)
        os.makedirs(scratch)
        subprocess.run(["dcm2niix", "-b", "o", "-o", scratch, root], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return len([n for n in os.listdir(scratch) if n.endswith(".json")])

    def vf(*extra_args):
        r = subprocess.run([voxelflow, "scan", root, "--json", *extra_args], check=True, capture_output=True, text=True)
        return len(json.loads(r.stdout)["stacks"]), r.stderr.strip()

    cache = os.path.join(work, "scan-cache.json")
    result = {"files": files}
    result["pydicom"] = best(pydicom_scan, 1, "pydicom")
    result["dcm2niix"] = best(dcm2niix_scan, 1, "dcm2niix -b o")
    result["voxelflow"] = best(lambda: vf(), repeat, "voxelflow scan")

    def first_cached():
        if os.path.exists(cache):
            os.remove(cache)
        return vf("--cache", cache)
    result["voxelflow_cache_build"] = best(first_cached, 1, "voxelflow scan --cache (new)")
    result["voxelflow_cache_unchanged"] = best(lambda: vf("--cache", cache), repeat, "voxelflow --cache unchanged")

    def changed():
        # 100 new files (one new series) and 100 files rewritten with a new modification time.
        src = os.path.join(root, "P0000", "ST00000", "SE00000")
        os.makedirs(os.path.join(extra, "ST99999", "SE99999"), exist_ok=True)
        for k, n in enumerate(sorted(os.listdir(src))):
            d = pydicom.dcmread(os.path.join(src, n))
            d.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.78.99999"
            d.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.79.99999.{k}"
            d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
            d.save_as(os.path.join(extra, "ST99999", "SE99999", n))
        touched = os.path.join(root, "P0001", "ST00004", "SE00020")
        for n in os.listdir(touched):
            os.utime(os.path.join(touched, n))
        out = vf("--cache", cache)
        shutil.rmtree(extra)
        return out
    result["voxelflow_cache_changed"] = best(changed, 1, "voxelflow --cache 200 changed")
    print(json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in result.items()}))


if __name__ == "__main__":
    main()
