#!/usr/bin/env python3
"""Reference segmentation metrics from MONAI (and a scipy distance-transform cross-check) for VoxelFlow's tests.

Usage: .venv-torch/bin/python scripts/oracles/make_metric_fixtures.py Tests/Fixtures/metrics [SHARED_DATA]

Cases (each prediction is made from committed or corpus files by a recipe the Swift test repeats exactly):
  synthetic   a small anisotropic grid (0.8 x 1.1 x 2.5 mm) written here as NIfTI: a blob, single voxels,
              a label only in the reference, one only in the prediction, one touching the grid border
  ct_head     sample-data head CT (0.957 x 0.957 x 1.5 mm): reference 1 = head, 2 = bone from the committed masks;
              prediction 1 = HU > -200, 2 = HU > 350
  aal         Colin27 AAL (116 labels, 1 mm) against itself taken to 2 x 2 x 3 mm and back by nearest neighbour:
              pred[i, j, k] = aal[2 (i // 2), 2 (j // 2), 3 (k // 3)] (only when SHARED_DATA is given)

Writes synthetic_pred.nii.gz, synthetic_ref.nii.gz and oracle.json: per case and label the MONAI values of Dice,
IoU, precision, sensitivity, specificity, Hausdorff, HD95, symmetric ASD and surface Dice (tolerances 1 and 2 mm),
plus voxel counts and volumes from NumPy. Non-finite MONAI values (empty masks) are written as strings.
"""
import json
import math
import os
import sys

import nibabel as nib
import numpy as np
import torch
from monai.metrics import (compute_average_surface_distance, compute_dice, compute_hausdorff_distance, compute_iou,
                           compute_surface_dice, get_confusion_matrix)
from scipy.ndimage import binary_erosion, distance_transform_edt

OUT = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/metrics"
SHARED = sys.argv[2] if len(sys.argv) > 2 else None
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.makedirs(OUT, exist_ok=True)


def finite(v):
    v = float(v)
    return v if math.isfinite(v) else str(v)


def scipy_surface(pred, ref, spacing):
    """Independent check: edges by erosion, distances from scipy's exact EDT."""
    ep, er = pred ^ binary_erosion(pred), ref ^ binary_erosion(ref)
    d_pr = distance_transform_edt(~er, sampling=spacing)[ep]
    d_rp = distance_transform_edt(~ep, sampling=spacing)[er]
    return d_pr, d_rp


def evaluate(pred, ref, labels, spacing, check_scipy=True):
    out = {}
    for label in labels:
        p, r = pred == label, ref == label
        yp = torch.from_numpy(p[None, None].astype(np.float32))
        yr = torch.from_numpy(r[None, None].astype(np.float32))
        cm = get_confusion_matrix(yp, yr, include_background=True)[0, 0]
        tp, fp, tn, fn = (float(x) for x in cm)
        row = {
            "referenceVoxels": int(r.sum()), "predictedVoxels": int(p.sum()),
            "truePositives": int(tp), "falsePositives": int(fp), "falseNegatives": int(fn), "trueNegatives": int(tn),
            "dice": finite(compute_dice(yp, yr, include_background=True, ignore_empty=False)[0, 0]),
            "iou": finite(compute_iou(yp, yr, include_background=True, ignore_empty=False)[0, 0]),
            "precision": finite(tp / (tp + fp)) if tp + fp > 0 else "nan",
            "sensitivity": finite(tp / (tp + fn)) if tp + fn > 0 else "nan",
            "specificity": finite(tn / (tn + fp)) if tn + fp > 0 else "nan",
        }
        if p.any() and r.any():
            sp = list(spacing)
            row["hausdorff"] = finite(compute_hausdorff_distance(yp, yr, include_background=True, spacing=sp)[0, 0])
            row["hausdorff95"] = finite(compute_hausdorff_distance(yp, yr, include_background=True, percentile=95, spacing=sp)[0, 0])
            row["averageSurfaceDistance"] = finite(compute_average_surface_distance(yp, yr, include_background=True, symmetric=True, spacing=sp)[0, 0])
            row["surfaceDice1mm"] = finite(compute_surface_dice(yp, yr, [1.0], include_background=True, spacing=sp)[0, 0])
            row["surfaceDice2mm"] = finite(compute_surface_dice(yp, yr, [2.0], include_background=True, spacing=sp)[0, 0])
            if check_scipy:
                d_pr, d_rp = scipy_surface(p, r, spacing)
                hd = max(d_pr.max(), d_rp.max())
                assert abs(hd - row["hausdorff"]) < 1e-4, (label, hd, row["hausdorff"])
                row["predictedSurfaceVoxels"] = int(len(d_pr))
                row["referenceSurfaceVoxels"] = int(len(d_rp))
        out[str(label)] = row
    return out


def synthetic():
    shape = (20, 18, 16)
    spacing = (0.8, 1.1, 2.5)
    ref = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    # 1: an ellipsoid and a shifted, slightly larger one
    i, j, k = np.indices(shape)
    ref[((i - 9) / 5.0) ** 2 + ((j - 8) / 4.0) ** 2 + ((k - 7) / 3.0) ** 2 <= 1] = 1
    pred[((i - 10) / 5.5) ** 2 + ((j - 8) / 4.0) ** 2 + ((k - 7) / 3.5) ** 2 <= 1] = 1
    # 2: single voxels, apart
    ref[2, 2, 2] = 2
    pred[3, 4, 5] = 2
    # 3: only in the reference; 4: only in the prediction
    ref[15:18, 12:16, 10:13] = 3
    pred[1:3, 14:17, 12:14] = 4
    # 5: touching the grid border in both, different extents
    ref[0:4, 0:3, 13:16] = 5
    pred[0:3, 0:3, 12:16] = 5
    affine = np.diag(list(spacing) + [1.0])
    affine[:3, 3] = [-7.5, 12.25, 30.0]
    nib.save(nib.Nifti1Image(ref, affine), os.path.join(OUT, "synthetic_ref.nii.gz"))
    nib.save(nib.Nifti1Image(pred, affine), os.path.join(OUT, "synthetic_pred.nii.gz"))
    return evaluate(pred, ref, [1, 2, 3, 4, 5, 6], spacing)


def ct_head():
    d = os.path.join(ROOT, "sample-data", "nifti")
    hu = np.asanyarray(nib.load(os.path.join(d, "ct_head_hu.nii.gz")).dataobj)
    head = np.asanyarray(nib.load(os.path.join(d, "ct_head_mask_head.nii.gz")).dataobj) > 0
    bone = np.asanyarray(nib.load(os.path.join(d, "ct_head_mask_bone.nii.gz")).dataobj) > 0
    spacing = tuple(float(z) for z in nib.load(os.path.join(d, "ct_head_hu.nii.gz")).header.get_zooms()[:3])
    ref = np.zeros(hu.shape, np.uint8)
    ref[head] = 1
    ref[bone] = 2
    pred = np.zeros(hu.shape, np.uint8)
    pred[hu > -200] = 1
    pred[hu > 350] = 2
    return evaluate(pred, ref, [1, 2], spacing), spacing


def aal():
    img = nib.load(os.path.join(SHARED, "nifti", "colin27", "aal.nii.gz"))
    ref = np.asanyarray(img.dataobj).astype(np.int32)
    i, j, k = np.indices(ref.shape)
    pred = ref[2 * (i // 2), 2 * (j // 2), 3 * (k // 3)]
    labels = sorted(int(v) for v in np.unique(np.concatenate([np.unique(ref), np.unique(pred)])) if v != 0)
    spacing = tuple(float(z) for z in img.header.get_zooms()[:3])
    return evaluate(pred, ref, labels, spacing, check_scipy=False), spacing


result = {"monai": __import__("monai").__version__, "torch": torch.__version__, "cases": {}}
result["cases"]["synthetic"] = {"spacing": [0.8, 1.1, 2.5], "labels": synthetic()}
labels, spacing = ct_head()
result["cases"]["ct_head"] = {"spacing": list(spacing), "labels": labels}
if SHARED:
    labels, spacing = aal()
    result["cases"]["aal"] = {"spacing": list(spacing), "labels": labels}
with open(os.path.join(OUT, "oracle.json"), "w") as f:
    json.dump(result, f, indent=1, sort_keys=True)
print("wrote", OUT)
