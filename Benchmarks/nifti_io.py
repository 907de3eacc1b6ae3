#!/usr/bin/env python3
"""Side-by-side NIfTI read/write benchmark: VoxelFlow vs nibabel on the same 512x512x324 int16 CT.

Makes the input once (trilinear upsampling of the real head CT), then in the same run times:
  read : nibabel `np.asanyarray(nib.load(f).dataobj)` vs `voxelflow-bench nifti-read`
  write: nibabel `nib.save` (.nii.gz, its default gzip level 1) vs `voxelflow-bench nifti-write`
and both tools reading VoxelFlow's own multi-member output;
checks that both tools decode identical voxels and that nibabel reads VoxelFlow's output back exactly,
and prints times, ratios and file sizes. Best of N repeats for each.
Usage: nifti_io.py VOXELFLOW_BENCH SOURCE_CT WORKDIR [--repeat N]
"""
import json
import os
import statistics
import subprocess
import sys

import nibabel as nib
import numpy as np

from benchlib import best_of


def make_input(source, path):
    if os.path.exists(path):
        return
    from scipy import ndimage
    src = nib.load(source)
    data = np.asanyarray(src.dataobj).astype(np.float32)
    zoom = (512 / data.shape[0], 512 / data.shape[1], 324 / data.shape[2])
    big = np.rint(ndimage.zoom(data, zoom, order=1)).astype(np.int16)
    assert big.shape == (512, 512, 324), big.shape
    affine = src.affine.copy()
    affine[:3, :3] = affine[:3, :3] / np.array(zoom)
    img = nib.Nifti1Image(big, affine)
    img.header.set_qform(affine, 1)
    img.header.set_sform(affine, 1)
    nib.save(img, path)


def main():
    bench, source, work = sys.argv[1:4]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    os.makedirs(work, exist_ok=True)
    ct = os.path.join(work, "ct_512x512x324.nii.gz")
    make_input(source, ct)

    # Read
    holder = {}
    nib_read, nib_read_all = best_of(repeat, lambda: holder.__setitem__("a", np.asanyarray(nib.load(ct).dataobj)))
    dump = os.path.join(work, "voxelflow_read.raw")
    vf = json.loads(subprocess.run([bench, "nifti-read", ct, "--repeat", str(repeat), "--dump", dump],
                                   check=True, capture_output=True, text=True).stdout)
    ours = np.fromfile(dump, dtype="<i2").reshape(holder["a"].shape, order="F")
    read_identical = bool(np.array_equal(ours, holder["a"]))
    os.remove(dump)

    # Write
    img = nib.load(ct)
    data = np.asanyarray(img.dataobj)
    nib_out = os.path.join(work, "nibabel_out.nii.gz")
    out_img = nib.Nifti1Image(data, img.affine, img.header)
    nib_write, nib_write_all = best_of(repeat, lambda: nib.save(out_img, nib_out))
    vf_out = os.path.join(work, "voxelflow_out.nii.gz")
    vfw = json.loads(subprocess.run([bench, "nifti-write", ct, vf_out, "--repeat", str(repeat)],
                                    check=True, capture_output=True, text=True).stdout)
    back = nib.load(vf_out)
    write_identical = bool(np.array_equal(np.asanyarray(back.dataobj), data)) and bool(np.allclose(back.affine, img.affine, atol=1e-4))

    # Read VoxelFlow's own (multi-member, indexed) output with both tools.
    nib_own, _ = best_of(repeat, lambda: np.asanyarray(nib.load(vf_out).dataobj))
    vfo = json.loads(subprocess.run([bench, "nifti-read", vf_out, "--repeat", str(repeat)],
                                    check=True, capture_output=True, text=True).stdout)

    result = {
        "input": {"shape": list(data.shape), "dtype": str(data.dtype), "bytes": os.path.getsize(ct)},
        "read": {"nibabel_s": nib_read, "voxelflow_s": vf["best"], "speedup": nib_read / vf["best"],
                 "median_speedup": statistics.median(nib_read_all) / statistics.median(vf["times"]),
                 "identical_voxels": read_identical, "nibabel_runs": nib_read_all, "voxelflow_runs": vf["times"]},
        "write": {"nibabel_s": nib_write, "voxelflow_s": vfw["best"], "speedup": nib_write / vfw["best"],
                  "median_speedup": statistics.median(nib_write_all) / statistics.median(vfw["times"]),
                  "nibabel_bytes": os.path.getsize(nib_out), "voxelflow_bytes": vfw["bytes"],
                  "voxelflow_level": vfw["level"], "nibabel_reads_back_identical": write_identical,
                  "nibabel_runs": nib_write_all, "voxelflow_runs": vfw["times"]},
        "read_voxelflow_output": {"nibabel_s": nib_own, "voxelflow_s": vfo["best"], "speedup": nib_own / vfo["best"]},
        "versions": {"nibabel": nib.__version__, "numpy": np.__version__},
        "cores": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    med = statistics.median
    print(f"read : nibabel {nib_read:.3f} s, voxelflow {vf['best']:.3f} s -> {nib_read / vf['best']:.2f}x best, "
          f"{med(nib_read_all) / med(vf['times']):.2f}x median (identical voxels: {read_identical})", file=sys.stderr)
    print(f"write: nibabel {nib_write:.3f} s ({os.path.getsize(nib_out)/1e6:.1f} MB), voxelflow {vfw['best']:.3f} s "
          f"({vfw['bytes']/1e6:.1f} MB, level {vfw['level']}) -> {nib_write / vfw['best']:.2f}x best, "
          f"{med(nib_write_all) / med(vfw['times']):.2f}x median "
          f"(nibabel reads ours back identical: {write_identical})", file=sys.stderr)
    print(f"read of voxelflow's output: nibabel {nib_own:.3f} s, voxelflow {vfo['best']:.3f} s -> {nib_own / vfo['best']:.2f}x",
          file=sys.stderr)


if __name__ == "__main__":
    main()
