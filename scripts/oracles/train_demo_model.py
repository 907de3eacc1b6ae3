"""Trains the small demo segmentation model shipped in pipelines/models/ and exports its MONAI oracle.

Task (a demonstration, not a clinical model): label the head CT in sample-data/ as background (0),
soft tissue inside the head (1) and bone (2), learning from the two InVesalius threshold masks that come
with it. Network: MONAI UNet(3, 1, 3, channels=(8, 16, 32), strides=(2, 2), num_res_units=1); input
scaled as the pipeline's `scale-intensity-range` (−1000…2000 HU → 0…1, clipped). Random 64³ patches,
cross-entropy, Adam, fixed seed, CPU. It is trained and shown on the same scan: the point is that the
pipeline runs a real trained network end to end, not how well it generalises.

Writes:
  pipelines/models/ct-head-tissue.safetensors          weights (+ metadata: network description, training)
  Tests/Fixtures/nn/ct_head_tissue_monai_labels.nii.gz MONAI sliding_window_inference labels (ROI 64×96×96
                                                       in D, H, W; overlap 0.5; Gaussian) on the same input
Run with the torch venv (scripts/setup-torch.sh):  .venv-torch/bin/python scripts/oracles/train_demo_model.py
"""
import json
import os
import time

import nibabel as nib
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DATA = os.path.join(ROOT, "sample-data", "nifti")
CONFIG = {"type": "monai-unet", "in": 1, "out": 3, "channels": [8, 16, 32], "strides": [2, 2], "numResUnits": 1}


def load():
    ct = nib.load(os.path.join(DATA, "ct_head_hu.nii.gz"))
    hu = np.asarray(ct.dataobj, dtype=np.float32)
    head = np.asarray(nib.load(os.path.join(DATA, "ct_head_mask_head.nii.gz")).dataobj) > 0
    bone = np.asarray(nib.load(os.path.join(DATA, "ct_head_mask_bone.nii.gz")).dataobj) > 0
    labels = np.zeros(hu.shape, np.int64)
    labels[head] = 1
    labels[bone] = 2
    x = np.clip((hu - np.float32(-1000)) / np.float32(3000), 0, 1).astype(np.float32)
    # (i, j, k) → (D, H, W) = (k, j, i), the engine's tensor order for a volume.
    return ct, np.ascontiguousarray(x.transpose(2, 1, 0)), np.ascontiguousarray(labels.transpose(2, 1, 0))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    ct, x, y = load()
    model = UNet(3, 1, 3, channels=(8, 16, 32), strides=(2, 2), num_res_units=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    p = 64
    start = time.time()
    iterations = 300
    for it in range(iterations):
        xs, ys = [], []
        for _ in range(2):
            d, h, w = (rng.integers(0, s - p + 1) for s in x.shape)
            xs.append(x[d:d + p, h:h + p, w:w + p])
            ys.append(y[d:d + p, h:h + p, w:w + p])
        xb = torch.from_numpy(np.stack(xs))[:, None]
        yb = torch.from_numpy(np.stack(ys))
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 50 == 0:
            print(f"iteration {it}: loss {loss.item():.4f}")
    seconds = time.time() - start
    model.eval()
    with torch.no_grad():
        out = sliding_window_inference(torch.from_numpy(x)[None, None], (64, 96, 96), 1, model, overlap=0.5, mode="gaussian")
    labels = out[0].argmax(0).numpy().astype(np.uint8)
    dice = {}
    for k, name in ((1, "soft tissue"), (2, "bone")):
        a, b = labels == k, y == k
        dice[name] = float(2 * (a & b).sum() / (a.sum() + b.sum()))
    print("Dice against the InVesalius masks:", dice, f"(training {seconds:.0f} s)")
    training = {"data": "sample-data/nifti/ct_head_hu.nii.gz with ct_head_mask_head/bone", "iterations": iterations,
                "patch": [p, p, p], "batch": 2, "optimizer": "Adam 3e-3", "loss": "cross-entropy", "seed": 0,
                "torch": torch.__version__, "dice_same_scan": dice}
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    save_file(tensors, os.path.join(ROOT, "pipelines", "models", "ct-head-tissue.safetensors"),
              metadata={"config": json.dumps(CONFIG), "training": json.dumps(training)})
    img = nib.Nifti1Image(np.ascontiguousarray(labels.transpose(2, 1, 0)), ct.affine)
    img.set_qform(ct.affine, 1)
    img.set_sform(ct.affine, 1)
    nib.save(img, os.path.join(ROOT, "Tests", "Fixtures", "nn", "ct_head_tissue_monai_labels.nii.gz"))


if __name__ == "__main__":
    main()
