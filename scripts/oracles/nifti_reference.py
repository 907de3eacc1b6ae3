#!/usr/bin/env python3
"""Independent NIfTI reference values from nibabel, for VoxelFlow's tests.

For each NIfTI file given, prints one JSON object per line with what nibabel reads:
shape, on-disk dtype, best affine (RAS, nibabel's precedence), qform/sform codes, scaling,
the SHA-256 of the stored (unscaled) voxels and of the scaled float64 voxels, both as
little-endian bytes in Fortran order (x fastest, the order of the file and of VoxelFlow's
VoxelArray), and min/max of the scaled values.

Usage: nifti_reference.py [--root DIR] FILE...   (keys are paths relative to DIR when given)
"""
import hashlib
import json
import os
import sys

import nibabel as nib
import numpy as np


def reference(path, root):
    img = nib.load(path)
    hdr = img.header
    raw = np.asanyarray(img.dataobj.get_unscaled()) if hasattr(img.dataobj, "get_unscaled") else np.asanyarray(img.dataobj)
    stored = raw.astype(raw.dtype.newbyteorder("<"), copy=False)
    scaled = img.get_fdata(dtype=np.float64)
    slope, inter = hdr.get_slope_inter()
    key = os.path.relpath(path, root) if root else path
    return {
        "path": key,
        "shape": [int(d) for d in img.shape],
        "dtype": str(hdr.get_data_dtype().newbyteorder("=").name),
        "affine": [[float(v) for v in row] for row in img.affine],
        "qform_code": int(hdr["qform_code"]),
        "sform_code": int(hdr["sform_code"]),
        "slope": None if slope is None else float(slope),
        "inter": None if inter is None else float(inter),
        "stored_sha256": hashlib.sha256(stored.tobytes(order="F")).hexdigest(),
        "scaled_sha256": hashlib.sha256(scaled.astype("<f8").tobytes(order="F")).hexdigest(),
        "min": float(np.nanmin(scaled)),
        "max": float(np.nanmax(scaled)),
    }


def main(argv):
    root = None
    if len(argv) > 1 and argv[0] == "--root":
        root, argv = argv[1], argv[2:]
    for path in argv:
        if path.endswith(".img") or path.endswith(".img.gz"):
            continue  # read through its .hdr
        print(json.dumps(reference(path, root)))


if __name__ == "__main__":
    main(sys.argv[1:])
