#!/usr/bin/env python3
"""Side-by-side resampling benchmark: VoxelFlow vs SimpleITK on the same input and output grid.

Resamples the 512x512x324 CT (made by nifti_io.py) to 1 mm, trilinear (default) or cubic B-spline
(--bspline, SimpleITK's sitkBSpline). SimpleITK's time
is its `Resample` call alone (scripts/oracles/sitk_resample.py); VoxelFlow's is `Resample.apply` alone
(voxelflow-bench resample); neither includes file I/O. Checks the largest difference against the intensity
range. Best of N runs each.
Usage: resample.py VOXELFLOW_BENCH CT_NII WORKDIR [--repeat N] [--bspline]
"""
import json
import os
import statistics
import subprocess
import sys

import numpy as np


def main():
    bench, ct, work = sys.argv[1:4]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    ours_raw, theirs_raw = os.path.join(work, "vf_resample.raw"), os.path.join(work, "sitk_resample.raw")
    mode = "bspline" if "--bspline" in sys.argv else "linear"
    extra = ["--bspline"] if mode == "bspline" else []
    vf = json.loads(subprocess.run([bench, "resample", ct, "1", "--repeat", str(repeat), "--dump", ours_raw] + extra,
                                   check=True, capture_output=True, text=True).stdout)
    grid = json.dumps(vf["grid"])
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "oracles", "sitk_resample.py")
    sitk_times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, script, ct, grid, mode, theirs_raw], check=True, capture_output=True, text=True)
        sitk_times.append(json.loads(out.stdout)["seconds"])
    ours, theirs = np.fromfile(ours_raw, np.float32), np.fromfile(theirs_raw, np.float32)
    os.remove(ours_raw)
    os.remove(theirs_raw)
    import nibabel as nib
    data = np.asanyarray(nib.load(ct).dataobj)
    span = float(data.max()) - float(data.min())
    worst = float(np.abs(ours - theirs).max())
    result = {"grid": vf["grid"], "simpleitk_s": min(sitk_times), "voxelflow_s": vf["best"],
              "speedup": min(sitk_times) / vf["best"], "median_speedup": statistics.median(sitk_times) / statistics.median(vf["times"]),
              "max_abs_difference": worst, "fraction_of_range": worst / span,
              "simpleitk_runs": sitk_times, "voxelflow_runs": vf["times"]}
    print(json.dumps(result, indent=2))
    print(f"resample 1 mm {mode}: SimpleITK {min(sitk_times):.3f} s, voxelflow {vf['best']:.3f} s -> {result['speedup']:.2f}x "
          f"(median {result['median_speedup']:.2f}x; max |difference| {worst:.4g} = {worst / span:.2g} of the range)", file=sys.stderr)


if __name__ == "__main__":
    main()
