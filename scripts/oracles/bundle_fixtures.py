"""Helpers of the scripts that assemble MONAI bundle fixtures and run MONAI's own bundle runner on them: the runtime
part of an inference configuration as published bundles carry it ($ expressions for device, datalist, handlers, run),
a preprocessing Compose, metadata.json, writing a bundle folder and running it on sample-data/nifti/ct_head_hu.nii.gz."""
import json
import os
import shutil
import subprocess
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CT = os.path.join(ROOT, "sample-data", "nifti", "ct_head_hu.nii.gz")

RUNTIME = {
    "imports": ["$import glob", "$import os"],
    "bundle_root": ".",
    "output_dir": "$@bundle_root + '/eval'",
    "dataset_dir": "/data/ct",
    "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
    "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
    "network": "$@network_def.to(@device)",
    "dataset": {"_target_": "Dataset", "data": "$[{'image': i} for i in @datalist]", "transform": "@preprocessing"},
    "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 1, "shuffle": False, "num_workers": 0},
    "evaluator": {"_target_": "SupervisedEvaluator", "device": "@device", "val_data_loader": "@dataloader",
                  "network": "@network", "inferer": "@inferer", "postprocessing": "@postprocessing",
                  "val_handlers": "@handlers", "amp": False},
    "checkpointloader": {"_target_": "CheckpointLoader", "load_path": "$@bundle_root + '/models/model.pt'",
                         "load_dict": {"model": "@network"}, "map_location": "cpu"},
    "initialize": ["$monai.utils.set_determinism(seed=0)", "$@checkpointloader(@evaluator)"],
    "run": ["$@evaluator.run()"],
}


def preprocessing(pixdim, a_min=-1000, a_max=2000):
    return {"_target_": "Compose", "transforms": [
        {"_target_": "LoadImaged", "keys": "image"},
        {"_target_": "EnsureChannelFirstd", "keys": "image"},
        {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
        {"_target_": "Spacingd", "keys": "image", "pixdim": pixdim, "mode": "bilinear"},
        {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": a_min, "a_max": a_max, "b_min": 0, "b_max": 1, "clip": True},
        {"_target_": "EnsureTyped", "keys": "image"},
    ]}


def metadata(name, task, outputs):
    return {
        "version": "0.1.0", "monai_version": "1.6.1", "pytorch_version": torch.__version__.split("+")[0],
        "name": name, "task": task, "description": task + " (random weights, for VoxelFlow's import tests)",
        "authors": "VoxelFlow", "copyright": "VoxelFlow", "data_source": "none (random weights)",
        "intended_use": "Tests of bundle import; not for diagnostic purposes",
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "hounsfield", "modality": "CT", "num_channels": 1,
                                 "dtype": "float32", "value_range": [0, 1], "channel_def": {"0": "image"}}},
            "outputs": {"pred": outputs},
        },
    }


def write_bundle(folder, inference, meta, state):
    if os.path.exists(folder):
        shutil.rmtree(folder)
    for d in ("configs", "models"):
        os.makedirs(os.path.join(folder, d))
    with open(os.path.join(folder, "configs", "inference.json"), "w") as f:
        json.dump(inference, f, indent=4)
    with open(os.path.join(folder, "configs", "metadata.json"), "w") as f:
        json.dump(meta, f, indent=4)
    torch.save(state, os.path.join(folder, "models", "model.pt"))


def run_bundle(folder, tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data, exist_ok=True)
    shutil.copy(CT, data)
    out = os.path.join(tmp, "out")
    subprocess.run([sys.executable, "-m", "monai.bundle", "run", "--config_file", os.path.join(folder, "configs", "inference.json"),
                    "--meta_file", os.path.join(folder, "configs", "metadata.json"),
                    "--bundle_root", folder, "--dataset_dir", data, "--output_dir", out], check=True)
    return out
