"""Exports PyTorch references for MONAI networks beyond the defaults, one safetensors file per case in
Tests/Fixtures/nn/ (random weights with norm parameters and statistics moved off their defaults; the state_dict
without batch-norm step counters, `input`, `output`, the VoxelFlow description in `__metadata__.config`):
- UNet with batch norm and residual units (the structure of MONAI's spleen CT bundle, narrower), without norm with
  ReLU, and with affine instance norm, LeakyReLU and 5×5×5 kernels;
- SegResNet at MONAI's defaults (narrower) and with transposed-convolution upsampling and 4 input channels (the
  shape of the BraTS bundle's network).
- DynUNet with anisotropic kernels and strides, deep supervision (its heads and PyTorch's `skip_layers` aliases stay in
  the state dict, as trained checkpoints have them), and with residual blocks, batch norm, PReLU and a biased
  transposed convolution;
- DenseNet (narrow, three blocks) on a batch of two.
Also Tests/Fixtures/bundles/{wholebody_segresnet,dynunet_spleen,densenet121}_state_dict.json: names and shapes of the
state dicts of SegResNet at the configuration of MONAI's whole-body CT bundle (105 classes, 32 initial filters), of
DynUNet as MONAI's DynUNet tutorial plans it for the Decathlon spleen task, and of DenseNet121, to check those
configurations without shipping their weights.
Run once with a venv holding torch, monai and safetensors (scripts/setup-torch.sh); name cases to export only those:
    .venv-torch/bin/python scripts/oracles/export_network_variants.py [dynunet_aniso_ds ...]
"""
import json
import os
import sys

import torch
from monai.networks.nets import DenseNet, DenseNet121, DynUNet, SegResNet, UNet
from safetensors.torch import save_file
from torch_fixtures import perturb

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "nn")
torch.set_grad_enabled(False)


WANTED = set(sys.argv[1:])


def export(name, model, config, shape):
    if WANTED and name not in WANTED:
        return
    perturb(model)
    model.eval()
    x = torch.randn(*shape)
    y = model(x)
    tensors = {k: v.contiguous().clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
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

torch.manual_seed(31)
export("segresnet_default", SegResNet(3, init_filters=4, in_channels=1, out_channels=3, blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1),
                                      norm=("group", {"num_groups": 4})),
       {"type": "monai-segresnet", "in": 1, "out": 3, "initFilters": 4, "numGroups": 4}, (1, 1, 16, 24, 16))
torch.manual_seed(32)
export("segresnet_deconv_brats", SegResNet(3, init_filters=4, in_channels=4, out_channels=3, blocks_down=(1, 2, 2), blocks_up=(1, 1),
                                           norm=("group", {"num_groups": 2}), upsample_mode="deconv", dropout_prob=0.2),
       {"type": "monai-segresnet", "in": 4, "out": 3, "initFilters": 4, "blocksDown": [1, 2, 2], "blocksUp": [1, 1], "numGroups": 2,
        "upsampleMode": "deconv", "dropout": 0.2}, (1, 4, 12, 8, 16))

torch.manual_seed(41)
export("dynunet_aniso_ds", DynUNet(3, 1, 3, kernel_size=[[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]],
                                   strides=[[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 1]],
                                   upsample_kernel_size=[[1, 2, 2], [2, 2, 2], [2, 2, 1]], filters=[4, 8, 16, 16],
                                   deep_supervision=True, deep_supr_num=2),
       {"type": "monai-dynunet", "in": 1, "out": 3, "kernelSize": [[1, 3, 3], 3, 3, 3], "strides": [1, [1, 2, 2], 2, [2, 2, 1]],
        "upsampleKernelSize": [[1, 2, 2], 2, [2, 2, 1]], "filters": [4, 8, 16, 16], "deepSupervision": True, "deepSuprNum": 2},
       (1, 1, 8, 16, 12))
torch.manual_seed(42)
export("dynunet_res_batch", DynUNet(3, 2, 2, kernel_size=[3, 3, 3], strides=[1, 2, 2], upsample_kernel_size=[2, 2], filters=[4, 8, 16],
                                    norm_name="batch", act_name="prelu", res_block=True, trans_bias=True, dropout=0.1),
       {"type": "monai-dynunet", "in": 2, "out": 2, "kernelSize": [3, 3, 3], "strides": [1, 2, 2], "upsampleKernelSize": [2, 2],
        "filters": [4, 8, 16], "norm": "batch", "act": "prelu", "resBlock": True, "transBias": True, "dropout": 0.1}, (1, 2, 8, 8, 12))
torch.manual_seed(51)
export("densenet_small", DenseNet(3, 1, 3, init_features=8, growth_rate=4, block_config=(2, 3, 2), bn_size=2),
       {"type": "monai-densenet", "in": 1, "out": 3, "initFeatures": 8, "growthRate": 4, "blockConfig": [2, 3, 2], "bnSize": 2},
       (2, 1, 20, 16, 24))


def shapes(name, model):
    if WANTED and name not in WANTED:
        return
    with open(os.path.join(ROOT, "Tests", "Fixtures", "bundles", name + "_state_dict.json"), "w") as f:
        json.dump({k: list(v.shape) for k, v in model.state_dict().items()}, f, indent=1)


shapes("wholebody_segresnet", SegResNet(3, init_filters=32, in_channels=1, out_channels=105, blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1),
                                        dropout_prob=0.2))
shapes("dynunet_spleen", DynUNet(3, 1, 2, kernel_size=[[3, 3, 1], 3, 3, 3, 3, 3], strides=[1, [2, 2, 1], 2, 2, 2, [2, 2, 1]],
                                 upsample_kernel_size=[[2, 2, 1], 2, 2, 2, [2, 2, 1]], norm_name="instance", deep_supervision=True,
                                 deep_supr_num=3, res_block=True))
shapes("densenet121", DenseNet121(spatial_dims=3, in_channels=1, out_channels=2))
