#!/usr/bin/env python3
"""Side-by-side segmentation-metric benchmark: VoxelFlow vs MONAI on the same label maps, same CPU.

Reference: Colin27 AAL (116 labels, 181 x 217 x 181 at 1 mm). Prediction: the same atlas taken to 2 x 2 x 3 mm and back
by nearest neighbour (pred[i, j, k] = ref[2 (i // 2), 2 (j // 2), 3 (k // 3)]), made identically on both sides.
MONAI: HD95 (`compute_hausdorff_distance(percentile=95)`), normalised surface Dice (`compute_surface_dice`, 1 mm) and
symmetric ASSD (`compute_average_surface_distance(symmetric=True)`) with the voxel spacing, on one-hot boolean tensors
built before the clock starts (torch with 2 threads). VoxelFlow: `SegmentationEvaluator.evaluate` on the label maps in
memory, which computes those three and every overlap and volume metric too. Neither side's time includes file I/O.
Checks that both sides' values agree (largest difference per metric). Best of N runs each, alternating tools.
Usage: metrics.py VOXELFLOW_BENCH AAL_NII WORKDIR [--repeat N]
"""
import json
import os
import subprocess
import sys
import time

import nibabel as nib
import numpy as np
import torch
from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance, compute_surface_dice


def main():
    bench, aal, work = sys.argv[1:4]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    img = nib.load(aal)
    ref = np.asanyarray(img.dataobj).astype(np.int32)
    i, j, k = np.indices(ref.shape)
    pred = ref[2 * (i // 2), 2 * (j // 2), 3 * (k // 3)]
    labels = sorted(int(v) for v in np.union1d(np.unique(ref), np.unique(pred)) if v != 0)
    spacing = [float(z) for z in img.header.get_zooms()[:3]]
    yp = torch.from_numpy(np.stack([pred == v for v in labels])[None])
    yr = torch.from_numpy(np.stack([ref == v for v in labels])[None])

    def monai_run():
        hd95 = compute_hausdorff_distance(yp, yr, include_background=True, percentile=95, spacing=spacing)
        nsd = compute_surface_dice(yp, yr, [1.0] * len(labels), include_background=True, spacing=spacing)
        assd = compute_average_surface_distance(yp, yr, include_background=True, symmetric=True, spacing=spacing)
        return hd95[0].numpy(), nsd[0].numpy(), assd[0].numpy()

    dump = os.path.join(work, "vf_metrics.json")
    monai_times, vf_times = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        theirs = monai_run()
        monai_times.append(time.perf_counter() - t)
        out = subprocess.run([bench, "evaluate", aal, "--roundtrip", "--repeat", "1", "--dump", dump],
                             check=True, capture_output=True, text=True).stdout
        vf_times.append(json.loads(out)["best"])
    ours = {r["label"]: r for r in json.load(open(dump))}
    os.remove(dump)
    diff = {name: float(max(abs(ours[v][key] - float(theirs[n][c])) for c, v in enumerate(labels)))
            for n, (name, key) in enumerate([("hd95", "hd95"), ("nsd", "nsd"), ("assd", "assd")])}
    result = {"labels": len(labels), "shape": list(ref.shape), "spacing": spacing, "monai_s": min(monai_times),
              "voxelflow_s": min(vf_times), "speedup": min(monai_times) / min(vf_times), "max_abs_difference": diff,
              "monai_runs": monai_times, "voxelflow_runs": vf_times,
              "monai": __import__("monai").__version__, "torch": torch.__version__}
    print(json.dumps(result, indent=2))
    print(f"HD95 + NSD + ASSD, {len(labels)} AAL labels at 1 mm: MONAI {min(monai_times):.2f} s, voxelflow "
          f"{min(vf_times):.3f} s -> {result['speedup']:.1f}x (max |difference| {diff})", file=sys.stderr)


if __name__ == "__main__":
    main()
