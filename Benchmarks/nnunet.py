"""nnU-Net v2 inference side by side: VoxelFlow's nnunet-predict and nnUNetPredictor on the CPU.

Model: the plans of Tests/Fixtures/nnunet (made by nnU-Net's planner) with the architecture replaced by what
nnU-Net plans for a CT dataset: PlainConvUNet, 6 stages, features 32-64-128-256-320-320, 3x3x3 kernels,
strides 1-2-2-2-2-2, patch PxPxP (default 128), target spacing --spacing mm (default 1.5, TotalSegmentator's);
random weights in nnU-Net's checkpoint format, 3 classes. Input: the corpus head CT upsampled to 512x512x300
(0.48 x 0.48 x 0.54 mm), written as NIfTI. Both tools run end to end on a fresh process (reading, preprocessing,
sliding window, resampling back, writing), 2 threads; peak memory from /usr/bin/time.
Checks: labels agree on >= 99.9% of voxels (random weights give many near-ties; the exact parity tests are in
the test suite).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import nibabel as nib
import numpy as np

voxelflow, work = sys.argv[1], sys.argv[2]
ap = argparse.ArgumentParser()
ap.add_argument("--mirror", action="store_true")
ap.add_argument("--repeat", type=int, default=1)
ap.add_argument("--spacing", type=float, default=1.5)
ap.add_argument("--patch", type=int, default=128)
args = ap.parse_args(sys.argv[3:])
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.environ.get("VOXELFLOW_SHARED_DATA", os.path.join(root, "..", "shared", "data"))
os.makedirs(work, exist_ok=True)

inputs = os.path.join(work, "in")
ct_path = os.path.join(inputs, "ct_0000.nii.gz")
if not os.path.exists(ct_path):
    from scipy.ndimage import zoom
    os.makedirs(inputs, exist_ok=True)
    src = nib.load(os.path.join(shared, "nifti/ct_head/ct_head_hu.nii.gz"))
    data = np.asarray(src.dataobj, dtype=np.float32)
    factors = (512 / data.shape[0], 512 / data.shape[1], 300 / data.shape[2])
    big = zoom(data, factors, order=1).astype(np.int16)
    zooms = [z / f for z, f in zip(src.header.get_zooms(), factors)]
    affine = src.affine.copy()
    affine[:3, :3] = affine[:3, :3] @ np.diag([1 / f for f in factors])
    nib.save(nib.Nifti1Image(big, affine), ct_path)

model = os.path.join(work, f"model_p{args.patch}_s{args.spacing}")
if not os.path.exists(os.path.join(model, "fold_0", "checkpoint_final.pth")):
    import torch
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
    shutil.rmtree(model, ignore_errors=True)
    os.makedirs(os.path.join(model, "fold_0"))
    fixture = os.path.join(root, "Tests/Fixtures/nnunet/models/nnUNetPlans__3d_fullres")
    plans = json.load(open(os.path.join(fixture, "plans.json")))
    config = plans["configurations"]["3d_fullres"]
    config["patch_size"] = [args.patch] * 3
    config["spacing"] = [args.spacing] * 3
    kw = config["architecture"]["arch_kwargs"]
    kw.update({"n_stages": 6, "features_per_stage": [32, 64, 128, 256, 320, 320], "kernel_sizes": [[3, 3, 3]] * 6,
               "strides": [[1, 1, 1]] + [[2, 2, 2]] * 5, "n_conv_per_stage": [2] * 6, "n_conv_per_stage_decoder": [2] * 5})
    plans["configurations"] = {"3d_fullres": config}
    json.dump(plans, open(os.path.join(model, "plans.json"), "w"), indent=2)
    shutil.copy(os.path.join(fixture, "dataset.json"), os.path.join(model, "dataset.json"))
    torch.manual_seed(0)
    net = get_network_from_plans(config["architecture"]["network_class_name"], kw, config["architecture"]["_kw_requires_import"],
                                 1, 3, allow_init=True, deep_supervision=True)
    torch.save({"network_weights": net.state_dict(), "init_args": {"configuration": "3d_fullres"}, "trainer_name": "nnUNetTrainer",
                "inference_allowed_mirroring_axes": (0, 1, 2)}, os.path.join(model, "fold_0", "checkpoint_final.pth"))


def timed(cmd, env=None):
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return elapsed, int(r.stderr.strip().splitlines()[-1]) / 1024


nn_script = f"""
import sys, torch
torch.set_num_threads(2)
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
p = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring={args.mirror}, perform_everything_on_device=False,
                    device=torch.device('cpu'), verbose=False, allow_tqdm=False)
p.initialize_from_trained_model_folder({model!r}, use_folds=(0,), checkpoint_name='checkpoint_final.pth')
p.predict_from_files({inputs!r}, sys.argv[1], save_probabilities=False, overwrite=True, num_processes_preprocessing=1,
                     num_processes_segmentation_export=1)
"""
env = dict(os.environ, OMP_NUM_THREADS="2", nnUNet_raw=work, nnUNet_preprocessed=work, nnUNet_results=work)
rows = []
for run in range(args.repeat):
    for tool in ("nnunet", "voxelflow"):
        out = os.path.join(work, f"out_{tool}")
        shutil.rmtree(out, ignore_errors=True)
        if tool == "nnunet":
            seconds, mb = timed([sys.executable, "-c", nn_script, out], env)
        else:
            cmd = [voxelflow, "nnunet-predict", "-i", inputs, "-o", out, "-m", model, "-f", "0", "-q"]
            if not args.mirror:
                cmd.append("--disable-tta")
            seconds, mb = timed(cmd)
        rows.append((tool, seconds, mb))
        print(f"{tool:10s} {seconds:8.1f} s  peak {mb:8.0f} MB", flush=True)
a = np.asarray(nib.load(os.path.join(work, "out_nnunet", "ct.nii.gz")).dataobj)
b = np.asarray(nib.load(os.path.join(work, "out_voxelflow", "ct.nii.gz")).dataobj)
agree = float((a == b).mean())
best = {t: min(s for tt, s, _ in rows if tt == t) for t in ("nnunet", "voxelflow")}
peak = {t: max(m for tt, _, m in rows if tt == t) for t in ("nnunet", "voxelflow")}
print(json.dumps({"mirror": args.mirror, "patch": args.patch, "spacing": args.spacing, "best_seconds": best, "peak_mb": peak,
                  "ratio": best["nnunet"] / best["voxelflow"], "label_agreement": agree}, indent=2))
