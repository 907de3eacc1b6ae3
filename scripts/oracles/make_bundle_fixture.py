"""Builds the MONAI bundle fixture of the import-bundle tests and its oracle, with MONAI's own bundle runner.

Tests/Fixtures/bundles/ct-tissue-bundle/ is a bundle folder laid out as the MONAI Model Zoo publishes them
(configs/metadata.json, configs/inference.json with MONAI's runtime parts — device, datalist, dataset,
evaluator, handlers, checkpoint loader, initialize/run — and models/model.pt), around the head CT tissue model
VoxelFlow ships (pipelines/models/ct-head-tissue/weights.safetensors, a MONAI UNet), so that its output has structure to
compare. The preprocessing resamples (Orientationd, Spacingd) so that the inversion is exercised.

The oracle is `python -m monai.bundle run` on sample-data/nifti/ct_head_hu.nii.gz:
Tests/Fixtures/bundles/ct_head_hu_monai_bundle_labels.nii.gz (labels on the scan's grid, after Invertd).
Also Tests/Fixtures/bundles/spacingd_input.nii.gz / spacingd_output.nii.gz: MONAI's Spacingd on a small random
volume whose output size is rounded up, for the resample test; and Tests/Fixtures/bundles/spleen_unet_state_dict.json: names and shapes of the state dict of the network of
MONAI's spleen CT bundle (UNet, channels 16…256, batch norm, two residual units), to check the import of that
published configuration without shipping its 19 MB of weights.
Run once: .venv-torch/bin/python scripts/oracles/make_bundle_fixture.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor
from monai.networks.nets import UNet
from monai.transforms import Spacing
from safetensors.torch import load_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "bundles")
BUNDLE = os.path.join(OUT, "ct-tissue-bundle")

inference = {
    "imports": ["$import glob", "$import os"],
    "bundle_root": ".",
    "output_dir": "$@bundle_root + '/eval'",
    "output_ext": ".nii.gz",
    "output_dtype": "$numpy.uint8",
    "output_postfix": "seg",
    "separate_folder": False,
    "dataset_dir": "/data/ct",
    "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
    "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
    "network_def": {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 3,
                    "channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 1},
    "network": "$@network_def.to(@device)",
    "preprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "LoadImaged", "keys": "image"},
        {"_target_": "EnsureChannelFirstd", "keys": "image"},
        {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
        {"_target_": "Spacingd", "keys": "image", "pixdim": [1.2, 1.2, 1.8], "mode": "bilinear"},
        {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": -1000, "a_max": 2000, "b_min": 0, "b_max": 1, "clip": True},
        {"_target_": "EnsureTyped", "keys": "image"},
    ]},
    "dataset": {"_target_": "Dataset", "data": "$[{'image': i} for i in @datalist]", "transform": "@preprocessing"},
    "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 1, "shuffle": False, "num_workers": 0},
    "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [96, 96, 64], "sw_batch_size": 4, "overlap": 0.5},
    "postprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "Activationsd", "keys": "pred", "softmax": True},
        {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
         "nearest_interp": False, "to_tensor": True},
        {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "output_ext": "@output_ext",
         "output_dtype": "@output_dtype", "output_postfix": "@output_postfix", "separate_folder": "@separate_folder"},
    ]},
    "handlers": [{"_target_": "StatsHandler", "iteration_log": False}],
    "evaluator": {"_target_": "SupervisedEvaluator", "device": "@device", "val_data_loader": "@dataloader",
                  "network": "@network", "inferer": "@inferer", "postprocessing": "@postprocessing",
                  "val_handlers": "@handlers", "amp": False},
    "checkpointloader": {"_target_": "CheckpointLoader", "load_path": "$@bundle_root + '/models/model.pt'",
                         "load_dict": {"model": "@network"}, "map_location": "cpu"},
    "initialize": ["$monai.utils.set_determinism(seed=0)", "$@checkpointloader(@evaluator)"],
    "run": ["$@evaluator.run()"],
}

metadata = {
    "version": "0.1.0",
    "monai_version": "1.6.1",
    "pytorch_version": torch.__version__.split("+")[0],
    "name": "ct_head_tissue_segmentation",
    "task": "Head CT soft tissue and bone segmentation",
    "description": "Soft tissue and bone of the head on CT (VoxelFlow's shipped head CT model, packed as a MONAI bundle for tests)",
    "authors": "VoxelFlow",
    "copyright": "VoxelFlow",
    "data_source": "One head CT (InVesalius sample), labels from HU ranges",
    "data_type": "nibabel",
    "intended_use": "Tests of bundle import; not for diagnostic purposes",
    "eval_metrics": {"mean_dice": 0.9},
    "network_data_format": {
        "inputs": {"image": {"type": "image", "format": "hounsfield", "modality": "CT", "num_channels": 1,
                             "spatial_shape": [96, 96, 64], "dtype": "float32", "value_range": [0, 1],
                             "is_patch_data": True, "channel_def": {"0": "image"}}},
        "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": 3,
                             "spatial_shape": [96, 96, 64], "dtype": "float32", "value_range": [0, 1],
                             "is_patch_data": True, "channel_def": {"0": "background", "1": "soft tissue", "2": "bone"}}},
    },
}

if os.path.exists(BUNDLE):
    shutil.rmtree(BUNDLE)
for d in ("configs", "models", "docs"):
    os.makedirs(os.path.join(BUNDLE, d))
with open(os.path.join(BUNDLE, "configs", "inference.json"), "w") as f:
    json.dump(inference, f, indent=4)
with open(os.path.join(BUNDLE, "configs", "metadata.json"), "w") as f:
    json.dump(metadata, f, indent=4)
with open(os.path.join(BUNDLE, "docs", "README.md"), "w") as f:
    f.write("# Head CT tissue (test bundle)\n\nVoxelFlow's head CT model (soft tissue 1, bone 2) in a MONAI bundle layout, "
            "made by scripts/oracles/make_bundle_fixture.py for the import-bundle tests.\n")

model = UNet(3, 1, 3, channels=(8, 16, 32), strides=(2, 2), num_res_units=1)
weights = load_file(os.path.join(ROOT, "pipelines", "models", "ct-head-tissue", "weights.safetensors"))
model.load_state_dict(weights, strict=True)
torch.save(model.state_dict(), os.path.join(BUNDLE, "models", "model.pt"))

with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    shutil.copy(os.path.join(ROOT, "sample-data", "nifti", "ct_head_hu.nii.gz"), data)
    subprocess.run([sys.executable, "-m", "monai.bundle", "run", "--config_file", os.path.join(BUNDLE, "configs", "inference.json"),
                    "--meta_file", os.path.join(BUNDLE, "configs", "metadata.json"),
                    "--bundle_root", BUNDLE, "--dataset_dir", data, "--output_dir", os.path.join(tmp, "out")], check=True)
    produced = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(tmp, "out")) for f in fs if f.endswith(".nii.gz")]
    assert len(produced) == 1, produced
    shutil.copy(produced[0], os.path.join(OUT, "ct_head_hu_monai_bundle_labels.nii.gz"))

spleen = UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2, norm="batch")
shapes = {k: list(v.shape) for k, v in spleen.state_dict().items()}
with open(os.path.join(OUT, "spleen_unet_state_dict.json"), "w") as f:
    json.dump(shapes, f, indent=1)
print("bundle, oracle labels and spleen state dict written to", OUT)

# MONAI's Spacingd on a small volume whose output size is rounded up (the last output voxel lies beyond the last
# input voxel centre, where MONAI pads with the border's values): input and output for the resample test.
rng = np.random.default_rng(7)
small = rng.normal(size=(17, 13, 11)).astype(np.float32) * 100
affine = np.diag([0.7, 0.9, 1.3, 1.0])
affine[:3, 3] = [-5.0, 3.0, 10.0]
nib.save(nib.Nifti1Image(small, affine), os.path.join(OUT, "spacingd_input.nii.gz"))
resampled = Spacing(pixdim=(1.1, 1.0, 1.7), mode="bilinear")(MetaTensor(torch.from_numpy(small)[None], affine=torch.from_numpy(affine)))
nib.save(nib.Nifti1Image(resampled[0].numpy().astype(np.float32), resampled.affine.numpy()), os.path.join(OUT, "spacingd_output.nii.gz"))
print("Spacingd:", small.shape, "->", tuple(resampled.shape[1:]))
