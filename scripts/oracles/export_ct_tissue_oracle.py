"""Exports the MONAI oracle of the shipped head CT model (pipelines/models/ct-head-tissue/weights.safetensors).

The model is trained by VoxelFlow itself (pipelines/training/ct-head-tissue.json); this script loads its weights
into MONAI's own UNet and segments the sample head CT with MONAI's sliding_window_inference, the way
pipelines/ct-head-tissue.json does: HU −1000…2000 scaled to 0…1 (clipped), ROI 64×96×96 in D, H, W (96×96×64
in i, j, k), overlap 0.5, Gaussian blending, argmax.

Writes Tests/Fixtures/nn/ct_head_tissue_monai_labels.nii.gz (uint8 labels on the scan's grid).
Run with the torch venv (scripts/setup-torch.sh):  .venv-torch/bin/python scripts/oracles/export_ct_tissue_oracle.py
"""
import json
import os

import nibabel as nib
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet
from safetensors import safe_open
from safetensors.torch import load_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
WEIGHTS = os.path.join(ROOT, "pipelines", "models", "ct-head-tissue", "weights.safetensors")
SCAN = os.path.join(ROOT, "sample-data", "nifti", "ct_head_hu.nii.gz")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "nn", "ct_head_tissue_monai_labels.nii.gz")


def main():
    torch.set_num_threads(2)
    with safe_open(WEIGHTS, "pt") as f:
        config = json.loads(f.metadata()["config"])
    model = UNet(3, config["in"], config["out"], channels=tuple(config["channels"]), strides=tuple(config["strides"]),
                 num_res_units=config["numResUnits"])
    missing, unexpected = model.load_state_dict(load_file(WEIGHTS), strict=False)
    assert not unexpected, unexpected
    assert all(not k.endswith(("weight", "bias", "alpha")) for k in missing), missing
    model.eval()
    ct = nib.load(SCAN)
    hu = np.asarray(ct.dataobj, dtype=np.float32)
    x = np.clip((hu - np.float32(-1000)) / np.float32(3000), 0, 1).astype(np.float32)
    # (i, j, k) → (D, H, W) = (k, j, i), the engine's tensor order for a volume.
    x = np.ascontiguousarray(x.transpose(2, 1, 0))
    with torch.no_grad():
        out = sliding_window_inference(torch.from_numpy(x)[None, None], (64, 96, 96), 1, model, overlap=0.5, mode="gaussian")
    labels = out[0].argmax(0).numpy().astype(np.uint8)
    img = nib.Nifti1Image(np.ascontiguousarray(labels.transpose(2, 1, 0)), ct.affine)
    img.set_qform(ct.affine, 1)
    img.set_sform(ct.affine, 1)
    nib.save(img, OUT)
    print("labels:", {int(v): int((labels == v).sum()) for v in np.unique(labels)}, "->", OUT)


if __name__ == "__main__":
    main()
