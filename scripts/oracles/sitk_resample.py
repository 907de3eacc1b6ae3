#!/usr/bin/env python3
"""SimpleITK's resampling of a NIfTI file onto a given grid, for VoxelFlow's parity tests and benchmarks.

The ITK image is built from nibabel's reading (voxels and affine, converted to LPS) so both tools start
from the same geometry. GRID is JSON: {"size": [nx,ny,nz], "spacing": [...], "origin": [...] (LPS mm),
"direction": [9 numbers, row-major, columns = axis directions]}. Writes the result to OUT, x fastest:
float32 physical values for linear and bspline (cubic B-spline, order 3), the stored type for nearest. Prints {"seconds": resample time}.
Usage: sitk_resample.py FILE GRID_JSON linear|bspline|nearest OUT [--back]   (--back: resample the result onto
the input grid again with the same interpolator, i.e. a round trip)
"""
import json
import sys
import time

import nibabel as nib
import numpy as np
import SimpleITK as sitk


def itk_image(path, interpolation):
    img = nib.load(path)
    arr = img.get_fdata(dtype=np.float32) if interpolation in ("linear", "bspline") else np.asanyarray(img.dataobj)
    arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.ndim > 3:
        arr = arr[..., 0]
    lps = np.diag([-1.0, -1.0, 1.0]) @ img.affine[:3, :]
    spacing = np.linalg.norm(lps[:, :3], axis=0)
    out = sitk.GetImageFromArray(np.ascontiguousarray(arr.T))
    out.SetSpacing([float(v) for v in spacing])
    out.SetDirection([float(v) for v in (lps[:, :3] / spacing).ravel()])
    out.SetOrigin([float(v) for v in lps[:, 3]])
    return out


def main():
    path, grid_json, interpolation, out = sys.argv[1:5]
    grid = json.loads(grid_json)
    image = itk_image(path, interpolation)
    interp = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline, "nearest": sitk.sitkNearestNeighbor}[interpolation]
    t = time.perf_counter()
    result = sitk.Resample(image, [int(v) for v in grid["size"]], sitk.Transform(), interp,
                           [float(v) for v in grid["origin"]], [float(v) for v in grid["spacing"]],
                           [float(v) for v in grid["direction"]], 0.0, image.GetPixelID())
    seconds = time.perf_counter() - t
    if "--back" in sys.argv:
        result = sitk.Resample(result, image, sitk.Transform(), interp, 0.0, image.GetPixelID())
    sitk.GetArrayFromImage(result).tofile(out)  # z, y, x C order = x fastest
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
