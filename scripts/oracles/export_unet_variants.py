"""Exports PyTorch references for MONAI UNet configurations beyond the defaults: batch norm with residual
units (the structure of MONAI's spleen CT bundle, narrower), no norm with ReLU, affine instance norm with
LeakyReLU and 5×5×5 kernels. One safetensors file per case in Tests/Fixtures/nn/ (state_dict without the
batch-norm step counters, `input`, `output`, the VoxelFlow description in `__metadata__.config`).
Run once with a venv holding torch, monai and safetensors:
    .venv-torch/bin/python scripts/oracles/export_unet_variants.py
"""
import json
import os

import torch
from monai.networks.nets import UNet
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "nn")
torch.set_grad_enabled(False)


def perturb(model):
    """Moves norm parameters and running statistics off their initial values, so loading them is tested."""
    for n, b in model.named_buffers():
        if "running_var" in n:
            b.copy_(torch.rand_like(b) + 0.5)
        elif "running_mean" in n:
            b.copy_(torch.randn_like(b) * 0.2)
    for n, p in model.named_parameters():
        if p.dim() == 1:
            p.add_(torch.randn_like(p) * 0.2)


def export(name, model, config, shape):
    perturb(model)
    model.eval()
    x = torch.randn(*shape)
    y = model(x)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    tensors["input"], tensors["output"] = x.contiguous(), y.contiguous()
    save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"config": json.dumps(config)})
    print(name, tuple(x.shape), "->", tuple(y.shape))


torch.manual_seed(21)
export("unet_batch", UNet(3, 1, 2, channels=(4, 8, 8, 16, 16), strides=(2, 2, 2, 2), num_res_units=2, norm="batch"),
       {"type": "monai-unet", "in": 1, "out": 2, "channels": [4, 8, 8, 16, 16], "strides": [2, 2, 2, 2],
        "numResUnits": 2, "norm": "batch"}, (1, 1, 16, 32, 16))
torch.manual_seed(22)
export("unet_relu_nonorm", UNet(3, 2, 3, channels=(4, 8, 16), strides=(2, 2), num_res_units=1, norm=None, act="relu"),
       {"type": "monai-unet", "in": 2, "out": 3, "channels": [4, 8, 16], "strides": [2, 2], "numResUnits": 1,
        "norm": "none", "act": "relu"}, (1, 2, 8, 12, 16))
torch.manual_seed(23)
export("unet_k5_leaky", UNet(3, 1, 2, channels=(4, 8), strides=(2,), kernel_size=5, up_kernel_size=5, num_res_units=0,
                             norm=("instance", {"affine": True}), act=("leakyrelu", {"negative_slope": 0.1})),
       {"type": "monai-unet", "in": 1, "out": 2, "channels": [4, 8], "strides": [2], "kernelSize": 5, "upKernelSize": 5,
        "norm": "instance-affine", "act": "leakyrelu", "negativeSlope": 0.1}, (1, 1, 8, 10, 12))
