#!/usr/bin/env python3
"""Independent results for VoxelFlow's transform tests (nibabel, scipy, and numpy versions of MONAI's formulas).

  canonical FILE OUT            nibabel.as_closest_canonical: prints the RAS affine; writes voxels to OUT
                                (stored dtype, little-endian, x fastest)
  components FILE THRESH CONN OUT   scipy.ndimage.label of (data > THRESH) with 6/18/26 connectivity:
                                prints the count; writes int32 labels to OUT (x fastest)
  largest FILE THRESH CONN OUT  the largest scipy component of (data > THRESH) as uint8 0/1 to OUT
  fillholes FILE THRESH OUT     scipy.ndimage.binary_fill_holes of (data > THRESH) as uint8 0/1 to OUT
  erode|dilate FILE THRESH CONN ITER OUT   scipy binary_erosion/dilation of (data > THRESH), uint8 to OUT
  removesmall FILE THRESH CONN ML OUT  components of (data > THRESH) under ML millilitres removed, uint8 to OUT
  percentile FILE LOW HIGH OUT  nnU-Net CT scheme: clip to numpy percentiles, z-score (float32)
  smooth FILE SX SY SZ OUT      scipy.ndimage.gaussian_filter (float64, reflect, truncate 4) as float32
  window FILE LEVEL WIDTH OUT   MONAI ScaleIntensityRange(a_min=L-W/2, a_max=L+W/2, 0, 1, clip) in float32
  zscore FILE NONZERO OUT       MONAI NormalizeIntensity(nonzero) in float32 (population std)
"""
import json
import sys

import nibabel as nib
import numpy as np
from scipy import ndimage


def data(path):
    return np.asanyarray(nib.load(path).dataobj)


def write(arr, out, dtype):
    np.asarray(arr, dtype=np.dtype(dtype).newbyteorder("<")).tofile(out) if arr.ndim == 0 else \
        np.asfortranarray(arr.astype(np.dtype(dtype).newbyteorder("<"))).ravel(order="F").tofile(out)


def structure(conn):
    return ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[int(conn)])


def main(op, *a):
    if op == "canonical":
        img = nib.as_closest_canonical(nib.load(a[0]))
        arr = np.asanyarray(img.dataobj)
        write(arr, a[1], arr.dtype)
        print(json.dumps({"affine": img.affine.tolist(), "shape": list(arr.shape)}))
    elif op == "components":
        labels, n = ndimage.label(data(a[0]) > float(a[1]), structure(a[2]))
        write(labels, a[3], "int32")
        print(json.dumps({"count": int(n)}))
    elif op == "largest":
        labels, n = ndimage.label(data(a[0]) > float(a[1]), structure(a[2]))
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        write((labels == sizes.argmax()) if n else labels * 0, a[3], "uint8")
        print(json.dumps({"count": int(n)}))
    elif op == "fillholes":
        write(ndimage.binary_fill_holes(data(a[0]) > float(a[1])), a[2], "uint8")
        print("{}")
    elif op in ("erode", "dilate"):
        fn = ndimage.binary_erosion if op == "erode" else ndimage.binary_dilation
        write(fn(data(a[0]) > float(a[1]), structure(a[2]), iterations=int(a[3])), a[4], "uint8")
        print("{}")
    elif op == "removesmall":
        img = nib.load(a[0])
        labels, n = ndimage.label(data(a[0]) > float(a[1]), structure(a[2]))
        voxel_ml = float(np.prod(img.header.get_zooms()[:3])) / 1000
        sizes = np.bincount(labels.ravel()) * voxel_ml
        keep = sizes >= float(a[3])
        keep[0] = False
        write(keep[labels], a[4], "uint8")
        print(json.dumps({"count": int(n)}))
    elif op == "percentile":
        x = nib.load(a[0]).get_fdata(dtype=np.float32).astype(np.float64)
        lo, hi = np.percentile(x, float(a[1])), np.percentile(x, float(a[2]))
        c = np.clip(x, lo, hi)
        std = c.std() if c.std() != 0 else 1.0
        write(((c - c.mean()) / std).astype(np.float32), a[3], "float32")
        print("{}")
    elif op == "smooth":
        x = nib.load(a[0]).get_fdata(dtype=np.float64)
        write(ndimage.gaussian_filter(x, [float(a[1]), float(a[2]), float(a[3])], mode="reflect", truncate=4.0), a[4], "float32")
        print("{}")
    elif op == "window":
        x = nib.load(a[0]).get_fdata(dtype=np.float32)
        level, width = float(a[1]), float(a[2])
        lo, hi = np.float32(level - width / 2), np.float32(level + width / 2)
        y = np.clip((x - lo) / (hi - lo) * np.float32(1) + np.float32(0), 0, 1)
        write(y, a[3], "float32")
        print("{}")
    elif op == "zscore":
        x = nib.load(a[0]).get_fdata(dtype=np.float32)
        nonzero = a[1] == "1"
        sel = x != 0 if nonzero else np.ones(x.shape, bool)
        mean, std = x[sel].astype(np.float64).mean(), x[sel].astype(np.float64).std()
        std = std if std != 0 else 1.0
        y = np.where(sel, (x - np.float32(mean)) / np.float32(std), 0).astype(np.float32)
        write(y, a[2], "float32")
        print("{}")


if __name__ == "__main__":
    main(*sys.argv[1:])
