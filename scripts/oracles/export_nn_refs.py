"""Exports PyTorch reference inputs, parameters and outputs for the VoxelNN layer tests.

One safetensors file per case in Tests/Fixtures/nn/: tensors `input`, `output` and the layer's state_dict
entries under their PyTorch names; `__metadata__` holds the layer type and its configuration as JSON.
Small shapes and seeded random values, so the files stay small and `swift test` needs no torch.
Run once with a venv holding torch and safetensors:
    .venv-torch/bin/python scripts/oracles/export_nn_refs.py
"""
import json
import os

import torch
from safetensors.torch import save_file
from torch_fixtures import perturb

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "nn")
torch.manual_seed(0)
torch.set_grad_enabled(False)


def case(name, layer, config, shape, scale=1.0):
    layer.eval()
    for p in layer.parameters():
        p.copy_(torch.randn_like(p) * 0.5)
    for n, b in layer.named_buffers():
        if "running_var" in n:
            b.copy_(torch.rand_like(b) + 0.5)
        elif "running_mean" in n:
            b.copy_(torch.randn_like(b))
    x = torch.randn(*shape) * scale
    y = layer(x)
    tensors = {"input": x.contiguous(), "output": y.contiguous()}
    for k, v in layer.state_dict().items():
        if v.dtype.is_floating_point:
            tensors[k] = v.contiguous()
    save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"config": json.dumps(config)})
    print(name, tuple(x.shape), "->", tuple(y.shape))


nn = torch.nn
os.makedirs(OUT, exist_ok=True)
case("conv3d_basic", nn.Conv3d(3, 4, 3, padding=1), {"type": "conv3d", "in": 3, "out": 4, "kernel": [3, 3, 3], "padding": [1, 1, 1]}, (2, 3, 6, 7, 5))
case("conv3d_stride_dilation", nn.Conv3d(4, 5, (3, 2, 3), stride=(2, 1, 2), padding=(1, 0, 2), dilation=(1, 2, 1)),
     {"type": "conv3d", "in": 4, "out": 5, "kernel": [3, 2, 3], "stride": [2, 1, 2], "padding": [1, 0, 2], "dilation": [1, 2, 1]}, (1, 4, 9, 8, 10))
case("conv3d_groups_nobias", nn.Conv3d(4, 6, 3, groups=2, bias=False),
     {"type": "conv3d", "in": 4, "out": 6, "kernel": [3, 3, 3], "groups": 2, "bias": False}, (1, 4, 5, 6, 5))
case("conv3d_pointwise", nn.Conv3d(8, 3, 1), {"type": "conv3d", "in": 8, "out": 3, "kernel": [1, 1, 1]}, (2, 8, 4, 3, 5))
case("convtranspose3d_stride2", nn.ConvTranspose3d(4, 3, 3, stride=2, padding=1, output_padding=1),
     {"type": "convtranspose3d", "in": 4, "out": 3, "kernel": [3, 3, 3], "stride": [2, 2, 2], "padding": [1, 1, 1], "outputPadding": [1, 1, 1]}, (1, 4, 4, 5, 3))
case("convtranspose3d_k2", nn.ConvTranspose3d(3, 2, 2, stride=2),
     {"type": "convtranspose3d", "in": 3, "out": 2, "kernel": [2, 2, 2], "stride": [2, 2, 2]}, (2, 3, 3, 3, 3))
case("instancenorm_affine", nn.InstanceNorm3d(3, affine=True), {"type": "instancenorm3d", "channels": 3, "affine": True}, (2, 3, 4, 5, 6), 3.0)
case("instancenorm_plain", nn.InstanceNorm3d(3), {"type": "instancenorm3d", "channels": 3, "affine": False}, (1, 3, 4, 5, 6), 3.0)
case("batchnorm_eval", nn.BatchNorm3d(3), {"type": "batchnorm3d", "channels": 3}, (2, 3, 4, 3, 5))
case("groupnorm", nn.GroupNorm(2, 4), {"type": "groupnorm", "groups": 2, "channels": 4}, (2, 4, 3, 4, 5), 2.0)
case("relu", nn.ReLU(), {"type": "relu"}, (1, 2, 3, 4, 5))
case("leakyrelu", nn.LeakyReLU(0.1), {"type": "leakyrelu", "slope": 0.1}, (1, 2, 3, 4, 5))
case("prelu", nn.PReLU(3), {"type": "prelu", "channels": 3}, (2, 3, 3, 4, 2))
case("sigmoid", nn.Sigmoid(), {"type": "sigmoid"}, (1, 2, 3, 4, 5), 4.0)
case("softmax", nn.Softmax(dim=1), {"type": "softmax"}, (2, 4, 3, 2, 5), 4.0)
case("maxpool3d_2", nn.MaxPool3d(2), {"type": "maxpool3d", "kernel": [2, 2, 2], "stride": [2, 2, 2]}, (1, 2, 6, 5, 4))
case("maxpool3d_3s2p1", nn.MaxPool3d(3, stride=2, padding=1), {"type": "maxpool3d", "kernel": [3, 3, 3], "stride": [2, 2, 2], "padding": [1, 1, 1]}, (2, 2, 7, 6, 5))
case("avgpool3d_3s2p1", nn.AvgPool3d(3, stride=2, padding=1), {"type": "avgpool3d", "kernel": [3, 3, 3], "stride": [2, 2, 2], "padding": [1, 1, 1]}, (1, 3, 7, 6, 5))
case("globalavgpool", nn.AdaptiveAvgPool3d(1), {"type": "globalavgpool"}, (2, 3, 4, 5, 6))
case("upsample_nearest", nn.Upsample(scale_factor=2, mode="nearest"), {"type": "upsample", "mode": "nearest", "scale": 2}, (1, 2, 3, 4, 2))
case("upsample_trilinear", nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False),
     {"type": "upsample", "mode": "trilinear", "scale": 2}, (1, 2, 3, 4, 2))
case("linear", nn.Linear(10, 4), {"type": "linear", "in": 10, "out": 4}, (3, 10))


def network(name, model, config, shape, extra=None):
    from safetensors.torch import save_file as save
    model.eval()
    x = torch.randn(*shape)
    y = model(x)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    tensors["input"], tensors["output"] = x.contiguous(), y.contiguous()
    save(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"config": json.dumps(config), **(extra or {})})
    print(name, tuple(x.shape), "->", tuple(y.shape))


from monai.networks.nets import UNet

torch.manual_seed(1)
network("unet_res2", UNet(3, 1, 2, channels=(4, 8, 16), strides=(2, 2), num_res_units=2),
        {"type": "monai-unet", "in": 1, "out": 2, "channels": [4, 8, 16], "strides": [2, 2], "numResUnits": 2}, (1, 1, 16, 12, 8))
network("unet_plain", UNet(3, 2, 3, channels=(4, 8, 8, 16), strides=(2, 2, 1)),
        {"type": "monai-unet", "in": 2, "out": 3, "channels": [4, 8, 8, 16], "strides": [2, 2, 1], "numResUnits": 0}, (2, 2, 8, 8, 12))

from monai.networks.nets import BasicUNet, ResNet
from monai.inferers import sliding_window_inference

torch.manual_seed(2)
model = BasicUNet(3, 2, 3, features=(4, 4, 8, 8, 16, 4))
perturb(model)
network("basicunet", model, {"type": "monai-basicunet", "in": 2, "out": 3, "features": [4, 4, 8, 8, 16, 4]}, (1, 2, 16, 32, 16))
network("basicunet_odd", model, {"type": "monai-basicunet", "in": 2, "out": 3, "features": [4, 4, 8, 8, 16, 4]}, (1, 2, 33, 32, 35))

torch.manual_seed(3)
model = ResNet("basic", [1, 2, 1, 1], [4, 8, 8, 16], n_input_channels=1, conv1_t_size=3, conv1_t_stride=2, num_classes=3)
perturb(model)
network("resnet_basic", model, {"type": "monai-resnet", "in": 1, "out": 3, "block": "basic", "layers": [1, 2, 1, 1],
                                "blockInplanes": [4, 8, 8, 16], "conv1Size": 3, "conv1Stride": 2}, (2, 1, 16, 14, 12))

torch.manual_seed(4)
model = ResNet("bottleneck", [1, 1, 1, 1], [2, 4, 4, 8], n_input_channels=2, conv1_t_size=5, no_max_pool=True, num_classes=4,
               bias_downsample=False)
perturb(model)
network("resnet_bottleneck", model, {"type": "monai-resnet", "in": 2, "out": 4, "block": "bottleneck", "layers": [1, 1, 1, 1],
                                     "blockInplanes": [2, 4, 4, 8], "conv1Size": 5, "noMaxPool": True, "biasDownsample": False},
        (1, 2, 12, 10, 8))


def sliding(name, model, config, shape, roi, overlap, mode, batch, mirror=()):
    """MONAI sliding_window_inference on a random volume; mirroring wraps the predictor in flips (nnU-Net TTA)."""
    model.eval()
    x = torch.randn(*shape)

    def predictor(w):
        if not mirror:
            return model(w)
        import itertools
        outs = []
        for k in range(len(mirror) + 1):
            for axes in itertools.combinations(mirror, k):
                dims = [a + 2 for a in axes]
                outs.append(torch.flip(model(torch.flip(w, dims)), dims) if dims else model(w))
        return sum(outs) / len(outs)

    y = sliding_window_inference(x, roi, batch, predictor, overlap=overlap, mode=mode)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    tensors["input"], tensors["output"] = x.contiguous(), y.contiguous()
    window = {"roi": list(roi), "overlap": overlap, "mode": mode, "batch": batch, "mirror": list(mirror)}
    save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"config": json.dumps(config), "window": json.dumps(window)})
    print(name, tuple(x.shape), "->", tuple(y.shape))


torch.manual_seed(5)
small = {"type": "monai-unet", "in": 1, "out": 3, "channels": [2, 4, 8], "strides": [2, 2], "numResUnits": 1}
model = UNet(3, 1, 3, channels=(2, 4, 8), strides=(2, 2), num_res_units=1)
perturb(model)
sliding("window_gaussian", model, small, (1, 1, 20, 27, 13), (12, 16, 16), 0.5, "gaussian", 1)
sliding("window_constant_batch", model, small, (1, 1, 9, 30, 17), (8, 12, 8), 0.25, "constant", 3)
sliding("window_mirror", model, small, (1, 1, 14, 18, 11), (8, 8, 8), 0.5, "gaussian", 2, mirror=(0, 2))
