"""A whole short training run, loading and augmentation included: `voxelflow train` vs a MONAI pipeline
(CacheDataset + DataLoader) doing the same work, same run.

Data: --cases synthetic cases (96³ float32 image of noise plus a bright sphere; the sphere as label 1) written
as NIfTI. Both tools: z-score normalisation once per case (cached), random 64³ patches (half centred on a
label voxel), random flip along one axis (p 0.5), batch 2, MONAI UNet(16, 32, 64, 128, 256; 2 residual units),
DiceCE, Adam 1e-3, --steps steps, no validation. MONAI: CacheDataset(LoadImaged, EnsureChannelFirstd,
NormalizeIntensityd) → RandCropByPosNegLabeld → RandFlipd, DataLoader(batch 2, num_workers 0), torch 2 threads.
Times are wall clock from start to the last step, including reading the files and caching.
Usage: training_epoch.py VOXELFLOW WORKDIR [--cases N] [--steps S]
"""
import json
import os
import shutil
import subprocess
import sys
import time

import nibabel as nib
import numpy as np


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    voxelflow, work = sys.argv[1:3]
    cases, steps = int(arg("--cases", "8")), int(arg("--steps", "20"))
    data = os.path.join(work, "epoch_data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    rng = np.random.default_rng(0)
    zz, yy, xx = np.mgrid[0:96, 0:96, 0:96]
    for c in range(cases):
        centre = rng.integers(30, 66, 3)
        sphere = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (zz - centre[2]) ** 2) < 15 ** 2
        image = (rng.normal(0, 1, (96, 96, 96)) + 3 * sphere).astype(np.float32)
        nib.save(nib.Nifti1Image(image, np.eye(4)), os.path.join(data, f"case{c}_image.nii.gz"))
        nib.save(nib.Nifti1Image(sphere.astype(np.uint8), np.eye(4)), os.path.join(data, f"case{c}_label.nii.gz"))
    ids = [f"case{c}" for c in range(cases)]
    pipeline = {
        "voxelflow": 1, "name": "epoch-benchmark", "seed": 0,
        "inputs": {"image": {"type": "nifti", "pattern": "*_image.nii.gz"}, "label": {"type": "nifti", "pattern": "*_label.nii.gz", "as": "labels"}},
        "stages": [{"id": "normalized", "type": "normalize", "source": "image"}],
        "training": {"image": "normalized", "label": "label", "split": {"train": ids, "validation": []},
                     "network": {"type": "monai-unet", "in": 1, "out": 2, "channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2], "numResUnits": 2},
                     "patch": [64, 64, 64], "positiveFraction": 0.5, "batch": 2, "epochs": 1, "iterationsPerEpoch": steps,
                     "loss": {"type": "dicece"}, "optimizer": {"type": "adam", "lr": 0.001}, "schedule": {"type": "constant"},
                     "augmentation": [{"type": "flip", "p": 0.5, "axes": [0]}]},
    }
    pipeline_path = os.path.join(work, "epoch_pipeline.json")
    with open(pipeline_path, "w") as f:
        json.dump(pipeline, f)
    run = os.path.join(work, "epoch_run")
    shutil.rmtree(run, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([voxelflow, "train", pipeline_path, "-i", data, "-o", run], check=True, capture_output=True)
    vf = time.perf_counter() - t

    import torch
    from monai.data import CacheDataset, DataLoader
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, NormalizeIntensityd, RandCropByPosNegLabeld, RandFlipd

    torch.set_num_threads(2)
    torch.manual_seed(0)
    t = time.perf_counter()
    files = [{"image": os.path.join(data, f"{i}_image.nii.gz"), "label": os.path.join(data, f"{i}_label.nii.gz")} for i in ids]
    transforms = Compose([LoadImaged(["image", "label"]), EnsureChannelFirstd(["image", "label"]), NormalizeIntensityd("image"),
                          RandCropByPosNegLabeld(["image", "label"], "label", (64, 64, 64), pos=1, neg=1, num_samples=1),
                          RandFlipd(["image", "label"], prob=0.5, spatial_axis=0)])
    dataset = CacheDataset(files, transforms, progress=False)
    loader = DataLoader(dataset, batch_size=2, shuffle=True, num_workers=0)
    model = UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2).train()
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    done = 0
    while done < steps:
        for batch in loader:
            opt.zero_grad()
            loss_fn(model(batch["image"]), batch["label"]).backward()
            opt.step()
            done += 1
            if done == steps:
                break
    pt = time.perf_counter() - t
    print(json.dumps({"cases": cases, "steps": steps, "voxelflow_seconds": round(vf, 2), "monai_seconds": round(pt, 2),
                      "speedup": round(pt / vf, 3)}, indent=1))


if __name__ == "__main__":
    main()
