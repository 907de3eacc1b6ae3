"""Builds two more MONAI bundle fixtures of the import-bundle tests and their oracles, with MONAI's own bundle runner
(`python -m monai.bundle run`) on sample-data/nifti/ct_head_hu.nii.gz:

- Tests/Fixtures/bundles/ct-dynunet-bundle/: a segmentation bundle around a DynUNet with anisotropic kernels and
  strides, residual blocks and deep supervision (random weights, norm parameters moved off their defaults; the
  checkpoint holds PyTorch's skip_layers aliases and the supervision heads, as trained DynUNet checkpoints do).
  Oracle: ct_head_hu_monai_dynunet_labels.nii.gz, the labels on the scan's grid after Invertd.
- Tests/Fixtures/bundles/ct-classifier-bundle/: a classification bundle around a narrow DenseNet (random weights),
  SimpleInferer, softmax, and MONAI's ClassificationSaver. Oracle: ct_head_hu_monai_classifier_scores.json, the
  class probabilities MONAI wrote.

Both configurations carry MONAI's runtime parts ($ expressions for device, datalist, handlers, run) as published
bundles do. Run once: .venv-torch/bin/python scripts/oracles/make_more_bundle_fixtures.py
"""
import csv
import json
import os
import shutil
import sys
import tempfile

import torch
from monai.networks.nets import DenseNet, DynUNet

sys.path.insert(0, os.path.dirname(__file__))
from bundle_fixtures import metadata, preprocessing, run_bundle, write_bundle  # noqa: E402
from torch_fixtures import perturb  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "bundles")

torch.set_grad_enabled(False)

# DynUNet segmentation bundle.
torch.manual_seed(61)
dyn_def = {"_target_": "DynUNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 3,
           "kernel_size": [[3, 3, 1], 3, 3, 3], "strides": [1, [2, 2, 1], 2, 2],
           "upsample_kernel_size": [[2, 2, 1], 2, 2], "filters": [8, 16, 16, 32],
           "norm_name": ["INSTANCE", {"affine": True}], "res_block": True, "deep_supervision": True, "deep_supr_num": 1}
dyn = DynUNet(**{k: v for k, v in dyn_def.items() if k != "_target_"})
perturb(dyn)
dyn.eval()
inference = dict(RUNTIME)
inference.update({
    "output_ext": ".nii.gz", "output_dtype": "$numpy.uint8", "output_postfix": "seg", "separate_folder": False,
    "network_def": dyn_def,
    "preprocessing": preprocessing([2.4, 2.4, 3.0]),
    "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [64, 64, 32], "sw_batch_size": 2, "overlap": 0.5},
    "postprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "Activationsd", "keys": "pred", "softmax": True},
        {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
         "nearest_interp": False, "to_tensor": True},
        {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "output_ext": "@output_ext",
         "output_dtype": "@output_dtype", "output_postfix": "@output_postfix", "separate_folder": "@separate_folder"},
    ]},
    "handlers": [{"_target_": "StatsHandler", "iteration_log": False}],
})
folder = os.path.join(OUT, "ct-dynunet-bundle")
write_bundle(folder, inference, metadata("ct_dynunet_test", "Head CT three-class segmentation with a DynUNet",
                                         {"type": "image", "format": "segmentation", "num_channels": 3, "dtype": "float32",
                                          "channel_def": {"0": "background", "1": "class one", "2": "class two"}}), dyn.state_dict())
with tempfile.TemporaryDirectory() as tmp:
    out = run_bundle(folder, tmp)
    produced = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs if f.endswith(".nii.gz")]
    assert len(produced) == 1, produced
    shutil.copy(produced[0], os.path.join(OUT, "ct_head_hu_monai_dynunet_labels.nii.gz"))

# DenseNet classification bundle.
torch.manual_seed(62)
dense_def = {"_target_": "DenseNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 3, "init_features": 8,
             "growth_rate": 4, "block_config": [2, 3, 2], "bn_size": 2}
dense = DenseNet(**{k: v for k, v in dense_def.items() if k != "_target_"})
perturb(dense)
dense.eval()
inference = dict(RUNTIME)
inference.update({
    "network_def": dense_def,
    "preprocessing": preprocessing([4.0, 4.0, 4.0]),
    "inferer": {"_target_": "SimpleInferer"},
    "postprocessing": {"_target_": "Compose", "transforms": [{"_target_": "Activationsd", "keys": "pred", "softmax": True}]},
    "handlers": [{"_target_": "ClassificationSaver", "output_dir": "@output_dir",
                  "batch_transform": "$lambda x: [xx['image'].meta for xx in x]",
                  "output_transform": "$monai.handlers.from_engine(['pred'])"}],
})
folder = os.path.join(OUT, "ct-classifier-bundle")
write_bundle(folder, inference, metadata("ct_classifier_test", "Head CT three-class classification with a DenseNet",
                                         {"type": "probabilities", "format": "classes", "num_channels": 3, "dtype": "float32",
                                          "channel_def": {"0": "first", "1": "second", "2": "third"}}), dense.state_dict())
with tempfile.TemporaryDirectory() as tmp:
    out = run_bundle(folder, tmp)
    with open(os.path.join(out, "predictions.csv")) as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1, rows
    scores = [float(v) for v in rows[0][-3:]]
    with open(os.path.join(OUT, "ct_head_hu_monai_classifier_scores.json"), "w") as f:
        json.dump({"scores": scores, "classes": ["first", "second", "third"]}, f, indent=1)
    print("classifier scores", scores)
print("bundles and oracles written to", OUT)
