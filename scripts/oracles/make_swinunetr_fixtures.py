"""Exports the SwinUNETR references of the network and bundle tests (random weights, PyTorch/MONAI as the oracle).

Weights are rounded to values float16 holds exactly and stored as float16, which halves the files without changing what
PyTorch computes (it runs in float32 on those values). Norm parameters and biases are moved off their initial values,
and the relative-position bias tables are scaled up so that their indexing decides the result.

- Tests/Fixtures/bundles/ct-swinunetr-bundle/: a segmentation bundle around SwinUNETR(1 → 3, feature_size 12, MONAI's
  defaults otherwise), its configuration shaped as MONAI's BTCV bundle publishes it (same transforms, inferer and
  postprocessing, smaller window). Its checkpoint keeps one of the eight relative_position_index buffers (below).
  Oracle: ct_head_hu_monai_swinunetr_labels.nii.gz, the labels MONAI's bundle runner
  wrote for sample-data/nifti/ct_head_hu.nii.gz.
- Tests/Fixtures/nn/swinunetr_small_io.safetensors: an input of 32 × 64 × 32 and the output of that same network
  (whose weights the test reads from the bundle's model.pt); the stages see 16 × 32 × 16 … 2 × 4 × 2 tokens, so windows
  are padded, shifted, shrunk on some axes only, and shrunk everywhere.
- Tests/Fixtures/nn/swinvit_v2.safetensors: the Swin encoder alone (`swinViT`) of a SwinUNETR with use_v2,
  PatchMergingV2, patch norm, no qkv bias, mlp_ratio 2, depths (1, 2, 1, 1), heads (2, 3, 4, 6), window (4, 5, 3), two
  input channels and normalize=False: its weights, input and the five hidden states it returns.
- Tests/Fixtures/bundles/swinunetr_btcv_state_dict.json: names and shapes of the BTCV bundle's network (14 classes,
  feature_size 48).

Run once with a venv holding torch and monai (scripts/setup-torch.sh):
    .venv-torch/bin/python scripts/oracles/make_swinunetr_fixtures.py
"""
import json
import os
import shutil
import sys
import tempfile

import torch
from monai.networks.nets import SwinUNETR
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from bundle_fixtures import RUNTIME, metadata, preprocessing, run_bundle, write_bundle  # noqa: E402
from torch_fixtures import perturb  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NN = os.path.join(ROOT, "Tests", "Fixtures", "nn")
BUNDLES = os.path.join(ROOT, "Tests", "Fixtures", "bundles")
torch.set_grad_enabled(False)


def prepare(model):
    """Perturbs, scales the bias tables, and rounds every floating tensor to a float16 value."""
    perturb(model)
    for n, p in model.named_parameters():
        if n.endswith("relative_position_bias_table"):
            p.copy_(torch.randn_like(p))
    for t in list(model.parameters()) + list(model.buffers()):
        if t.dtype.is_floating_point:
            t.copy_(t.half().float())
    model.eval()
    return model


def half_state(model, prefix=""):
    return {k: (v.half() if v.dtype.is_floating_point else v).contiguous().clone()
            for k, v in model.state_dict().items() if k.startswith(prefix)}


# 1. The bundle network and its direct input/output.
torch.manual_seed(71)
net_def = {"_target_": "SwinUNETR", "spatial_dims": 3, "in_channels": 1, "out_channels": 3, "feature_size": 12,
           "use_checkpoint": False}
net = prepare(SwinUNETR(**{k: v for k, v in net_def.items() if k != "_target_"}))
x = torch.randn(1, 1, 32, 64, 32)
y = net(x)
config = {"type": "monai-swinunetr", "in": 1, "out": 3, "featureSize": 12}
save_file({"input": x.contiguous(), "output": y.contiguous()}, os.path.join(NN, "swinunetr_small_io.safetensors"),
          metadata={"config": json.dumps(config)})
print("swinunetr_small", tuple(x.shape), "->", tuple(y.shape))

inference = dict(RUNTIME)
inference.update({
    "network_def": net_def,
    "preprocessing": preprocessing([2.4, 2.4, 3.0], a_min=-175, a_max=250),
    "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [64, 64, 32], "sw_batch_size": 2, "overlap": 0.5},
    "postprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "Activationsd", "keys": "pred", "softmax": True},
        {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
         "nearest_interp": False, "to_tensor": True},
        {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
        {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "output_dtype": "$numpy.uint8",
         "separate_folder": False, "output_postfix": "seg"},
    ]},
    "handlers": [{"_target_": "StatsHandler", "iteration_log": False}],
})
folder = os.path.join(BUNDLES, "ct-swinunetr-bundle")
write_bundle(folder, inference, metadata("ct_swinunetr_test", "Head CT three-class segmentation with a SwinUNETR",
                                         {"type": "image", "format": "segmentation", "num_channels": 3, "dtype": "float32",
                                          "channel_def": {"0": "background", "1": "class one", "2": "class two"}}), half_state(net))
with tempfile.TemporaryDirectory() as tmp:
    out = run_bundle(folder, tmp)
    produced = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs if f.endswith(".nii.gz")]
    assert len(produced) == 1, produced
    shutil.copy(produced[0], os.path.join(BUNDLES, "ct_head_hu_monai_swinunetr_labels.nii.gz"))
# Each block's relative_position_index (int64, 343 × 343) is a buffer MONAI recomputes; the committed checkpoint keeps the
# first one only (so reading int64 buffers stays tested) and is 7 MB smaller.
state = half_state(net)
first = next(k for k in state if k.endswith("relative_position_index"))
torch.save({k: v for k, v in state.items() if k == first or not k.endswith("relative_position_index")},
           os.path.join(folder, "models", "model.pt"))

# 2. The v2 encoder with the other options.
torch.manual_seed(72)
v2 = prepare(SwinUNETR(2, 2, feature_size=12, depths=(1, 2, 1, 1), num_heads=(2, 3, 4, 6), window_size=(4, 5, 3), qkv_bias=False,
                       mlp_ratio=2.0, patch_norm=True, use_v2=True, downsample="mergingv2", normalize=False))
x = torch.randn(1, 2, 32, 32, 64)
hidden = v2.swinViT(x, False)
tensors = {k: v.contiguous() for k, v in half_state(v2, "swinViT.").items() if v.dtype.is_floating_point}
tensors["input"] = x.contiguous()
for i, h in enumerate(hidden):
    tensors[f"hidden{i}"] = h.contiguous()
config = {"type": "monai-swinunetr", "in": 2, "out": 2, "featureSize": 12, "depths": [1, 2, 1, 1], "numHeads": [2, 3, 4, 6],
          "windowSize": [4, 5, 3], "qkvBias": False, "mlpRatio": 2.0, "patchNorm": True, "useV2": True, "downsample": "mergingv2",
          "normalize": False}
save_file(tensors, os.path.join(NN, "swinvit_v2.safetensors"), metadata={"config": json.dumps(config)})
print("swinvit_v2", [tuple(h.shape) for h in hidden])

# 3. The BTCV bundle's network: names and shapes.
btcv = SwinUNETR(1, 14, feature_size=48)
with open(os.path.join(BUNDLES, "swinunetr_btcv_state_dict.json"), "w") as f:
    json.dump({k: list(v.shape) for k, v in btcv.state_dict().items()}, f, indent=1)
print("fixtures written")
