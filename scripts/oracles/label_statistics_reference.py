"""Label statistics computed independently with nibabel + numpy, printed as JSON for the tests.
Usage: label_statistics_reference.py IMAGE LABELS PERCENTILES(comma-separated)
Centroids are in world mm: RAS from the NIfTI affine, LPS by negating x and y."""
import json
import sys

import nibabel as nib
import numpy as np

image = nib.load(sys.argv[1])
labels = nib.load(sys.argv[2])
qs = [float(q) for q in sys.argv[3].split(",")]
values = image.get_fdata(dtype=np.float64)
lab = np.asarray(labels.dataobj).astype(np.int64)
voxel_ml = float(np.prod(labels.header.get_zooms()[:3])) / 1000.0
out = []
for label in sorted(int(v) for v in np.unique(lab) if v != 0):
    idx = np.argwhere(lab == label)
    centre = idx.mean(axis=0)
    ras = labels.affine[:3, :3] @ centre + labels.affine[:3, 3]
    v = values[lab == label]
    entry = {
        "label": label,
        "voxels": int(len(idx)),
        "volumeML": len(idx) * voxel_ml,
        "boundingBox": {"min": [int(x) for x in idx.min(axis=0)], "max": [int(x) for x in idx.max(axis=0)]},
        "centroidRAS": [float(x) for x in ras],
        "centroidLPS": [float(-ras[0]), float(-ras[1]), float(ras[2])],
        "intensity": {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max())},
    }
    for q in qs:
        key = "p%d" % q if q == int(q) else "p%s" % q
        entry["intensity"][key] = float(np.percentile(v, q))
    out.append(entry)
print(json.dumps(out))
