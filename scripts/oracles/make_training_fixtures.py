#!/usr/bin/env python3
"""Reference gradients, losses and optimiser steps from PyTorch and MONAI for VoxelFlow's training tests.

Usage: .venv-torch/bin/python scripts/oracles/make_training_fixtures.py Tests/Fixtures/training

Writes one safetensors file per case (float32, small shapes, fixed seeds):
  layer_*.safetensors   x, gy (upstream gradient), y, dx, param.NAME, grad.NAME; metadata "config" (JSON)
  loss_*.safetensors    logits, target, value, grad; metadata "config"
  net_*.safetensors     input, target, init.NAME (state_dict), loss, grad.NAME, adam.NAME, sgd.NAME; metadata "config"
                        (MONAI UNet, BasicUNet, SegResNet and DynUNet)
  cls_*.safetensors     a MONAI ResNet in training mode (batch norm on batch statistics) with cross-entropy on class
                        indices: input, target, init.NAME (state_dict with running statistics), loss, grad.NAME,
                        step1.NAME (running statistics after one forward pass), sgd.NAME (parameters and running
                        statistics after 3 SGD steps); metadata "config"

Pass "cls" as a second argument to write only the cls_* files, "winograd" to write only layer_conv3d_winograd,
"upsample" to write only the layer_upsample_* files, "segresnet" to write only the net_segresnet* and net_dynunet* files, "densenet" only cls_densenet_small.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss, DiceLoss, FocalLoss
from monai.networks.nets import BasicUNet, DenseNet, DynUNet, ResNet, SegResNet, UNet
from safetensors.torch import save_file

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
OUT = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/training"
os.makedirs(OUT, exist_ok=True)


def save(name, tensors, config):
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"config": json.dumps(config)})


def layer_case(name, module, x_shape, config, seed):
    torch.manual_seed(seed)
    for p in module.parameters():
        with torch.no_grad():
            p.uniform_(-0.5, 0.5) if p.dim() > 1 else p.uniform_(0.1, 1.0)
    x = torch.randn(*x_shape, requires_grad=True)
    y = module(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    tensors = {"x": x, "gy": gy, "y": y, "dx": x.grad}
    for pname, p in module.named_parameters():
        tensors["param." + pname] = p
        tensors["grad." + pname] = p.grad
    save(name, tensors, config)


def winograd():
    # Enough channels and 2×2×2 tiles (8·8·5 = 320) for VoxelFlow's Winograd path, in the forward pass and in
    # the input gradient (a convolution of the 12-channel output gradient); odd sizes give clipped tiles.
    layer_case("layer_conv3d_winograd", torch.nn.Conv3d(8, 12, 3, padding=1), (1, 8, 15, 16, 9),
               {"op": "conv", "kernel": [3, 3, 3], "stride": [1, 1, 1], "padding": [1, 1, 1], "dilation": [1, 1, 1], "groups": 1}, 12)


def upsampling():
    # Nearest and trilinear (align_corners=False) upsampling: the input gradient sums each output gradient back
    # onto the voxels it came from; odd sizes and a factor of 3 exercise the clamped edges.
    layer_case("layer_upsample_nearest", torch.nn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 3, 4, 5),
               {"op": "upsample", "mode": "nearest", "scale": 2}, 13)
    layer_case("layer_upsample_trilinear", torch.nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False), (2, 3, 3, 4, 5),
               {"op": "upsample", "mode": "trilinear", "scale": 2}, 14)
    layer_case("layer_upsample_trilinear_x3", torch.nn.Upsample(scale_factor=3, mode="trilinear", align_corners=False), (1, 2, 4, 3, 5),
               {"op": "upsample", "mode": "trilinear", "scale": 3}, 15)


def layers():
    layer_case("layer_conv3d_basic", torch.nn.Conv3d(3, 4, 3, padding=1), (2, 3, 6, 7, 5),
               {"op": "conv", "kernel": [3, 3, 3], "stride": [1, 1, 1], "padding": [1, 1, 1], "dilation": [1, 1, 1], "groups": 1}, 1)
    layer_case("layer_conv3d_stride_dilation", torch.nn.Conv3d(2, 3, 3, stride=2, padding=2, dilation=2), (1, 2, 9, 8, 7),
               {"op": "conv", "kernel": [3, 3, 3], "stride": [2, 2, 2], "padding": [2, 2, 2], "dilation": [2, 2, 2], "groups": 1}, 2)
    layer_case("layer_conv3d_groups_nobias", torch.nn.Conv3d(4, 6, (3, 1, 3), padding=(1, 0, 1), groups=2, bias=False), (2, 4, 5, 6, 5),
               {"op": "conv", "kernel": [3, 1, 3], "stride": [1, 1, 1], "padding": [1, 0, 1], "dilation": [1, 1, 1], "groups": 2}, 3)
    winograd()
    upsampling()
    layer_case("layer_convtranspose3d_stride2", torch.nn.ConvTranspose3d(4, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 4, 5, 3),
               {"op": "convtranspose", "kernel": [3, 3, 3], "stride": [2, 2, 2], "padding": [1, 1, 1], "dilation": [1, 1, 1],
                "outputPadding": [1, 1, 1], "groups": 1}, 4)
    layer_case("layer_convtranspose3d_k2", torch.nn.ConvTranspose3d(3, 2, 2, stride=2), (1, 3, 3, 4, 5),
               {"op": "convtranspose", "kernel": [2, 2, 2], "stride": [2, 2, 2], "padding": [0, 0, 0], "dilation": [1, 1, 1],
                "outputPadding": [0, 0, 0], "groups": 1}, 5)

    class NormAct(torch.nn.Module):
        def __init__(self, norm, act):
            super().__init__()
            self.norm, self.act = norm, act

        def forward(self, x):
            return self.act(self.norm(x))

    layer_case("layer_instancenorm_prelu", NormAct(torch.nn.InstanceNorm3d(4), torch.nn.PReLU()), (2, 4, 5, 6, 7),
               {"op": "norm", "groups": 4, "activation": "prelu"}, 6)
    layer_case("layer_instancenorm_affine_leaky", NormAct(torch.nn.InstanceNorm3d(3, affine=True), torch.nn.LeakyReLU(0.1)), (2, 3, 4, 6, 5),
               {"op": "norm", "groups": 3, "activation": "leaky", "slope": 0.1}, 7)
    layer_case("layer_groupnorm_affine", NormAct(torch.nn.GroupNorm(2, 4), torch.nn.Identity()), (2, 4, 3, 4, 5),
               {"op": "norm", "groups": 2, "activation": "none"}, 8)
    layer_case("layer_instancenorm_prelu_channels", NormAct(torch.nn.InstanceNorm3d(3, affine=True), torch.nn.PReLU(3)), (1, 3, 4, 5, 6),
               {"op": "norm", "groups": 3, "activation": "prelu"}, 9)


def loss_case(name, fn, logits, target, config, channel_target=None):
    logits = logits.clone().requires_grad_(True)
    value = fn(logits)
    value.backward()
    tensors = {"logits": logits, "target": target if channel_target is None else channel_target, "value": value.reshape(1), "grad": logits.grad}
    save(name, tensors, config)


def losses():
    torch.manual_seed(11)
    logits = torch.randn(2, 3, 4, 5, 6) * 2
    labels = torch.randint(0, 3, (2, 4, 5, 6))
    labels[1, :2] = 0
    onehot_y = labels.unsqueeze(1)
    for bg in (True, False):
        for batch in (False, True):
            for squared in (False, True):
                cfg = {"loss": "dice", "activation": "softmax", "includeBackground": bg, "batch": batch, "squaredPred": squared}
                fn = DiceLoss(to_onehot_y=True, softmax=True, include_background=bg, batch=batch, squared_pred=squared)
                loss_case(f"loss_dice_softmax_bg{int(bg)}_batch{int(batch)}_sq{int(squared)}", lambda x: fn(x, onehot_y), logits, labels.float(), cfg)
    fn = DiceLoss(to_onehot_y=True, softmax=True, smooth_nr=0.5, smooth_dr=1.0)
    loss_case("loss_dice_softmax_smooth", lambda x: fn(x, onehot_y), logits, labels.float(),
              {"loss": "dice", "activation": "softmax", "smoothNr": 0.5, "smoothDr": 1.0})
    multilabel = (torch.rand(2, 3, 4, 5, 6) > 0.6).float()
    fn = DiceLoss(sigmoid=True)
    loss_case("loss_dice_sigmoid", lambda x: fn(x, multilabel), logits, None, {"loss": "dice", "activation": "sigmoid"}, multilabel)
    loss_case("loss_ce", lambda x: F.cross_entropy(x, labels), logits, labels.float(), {"loss": "ce"})
    w = torch.tensor([0.2, 1.0, 3.0])
    loss_case("loss_ce_weights", lambda x: F.cross_entropy(x, labels, weight=w), logits, labels.float(), {"loss": "ce", "classWeights": w.tolist()})
    fn = DiceCELoss(to_onehot_y=True, softmax=True)
    loss_case("loss_dicece", lambda x: fn(x, onehot_y), logits, labels.float(), {"loss": "dicece"})
    fn = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False, lambda_dice=0.7, lambda_ce=1.5)
    loss_case("loss_dicece_nobg_lambdas", lambda x: fn(x, onehot_y), logits, labels.float(),
              {"loss": "dicece", "includeBackground": False, "lambdaDice": 0.7, "lambdaCE": 1.5})
    loss_case("loss_bce", lambda x: F.binary_cross_entropy_with_logits(x, multilabel), logits, None, {"loss": "bce"}, multilabel)
    fn = FocalLoss(gamma=2.0)
    loss_case("loss_focal", lambda x: fn(x, multilabel), logits, None, {"loss": "focal", "gamma": 2.0}, multilabel)
    fn = FocalLoss(gamma=1.5, alpha=0.25, include_background=False, to_onehot_y=True)
    loss_case("loss_focal_alpha_nobg", lambda x: fn(x, onehot_y), logits, labels.float(),
              {"loss": "focal", "gamma": 1.5, "alpha": 0.25, "includeBackground": False})


def network_case(name, make, config, shape, out_channels, seed):
    torch.manual_seed(seed)
    net = make()
    net.train()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(*shape)
    labels = torch.randint(0, out_channels, (shape[0],) + tuple(shape[2:]))
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    loss = loss_fn(net(x), labels.unsqueeze(1))
    loss.backward()
    tensors = {"input": x, "target": labels.float(), "loss": loss.reshape(1)}
    for k, v in init.items():
        tensors["init." + k] = v
    for k, p in net.named_parameters():
        tensors["grad." + k] = p.grad
    for opt_name, make_opt in (("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=1e-4)),
                               ("adamw", lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=1e-2)),
                               ("sgd", lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-4))):
        net.load_state_dict(init)
        opt = make_opt(net.parameters())
        for _ in range(5):
            opt.zero_grad()
            loss_fn(net(x), labels.unsqueeze(1)).backward()
            opt.step()
        for k, p in net.named_parameters():
            tensors[opt_name + "." + k] = p.detach().clone()
    save(name, tensors, config)


def networks():
    network_case("net_unet_res2", lambda: UNet(3, 1, 3, (4, 8, 16), (2, 2), num_res_units=2),
                 {"type": "monai-unet", "in": 1, "out": 3, "channels": [4, 8, 16], "strides": [2, 2], "numResUnits": 2}, (2, 1, 16, 16, 16), 3, 21)
    network_case("net_unet_plain", lambda: UNet(3, 2, 2, (4, 8, 8), (2, 1), num_res_units=0),
                 {"type": "monai-unet", "in": 2, "out": 2, "channels": [4, 8, 8], "strides": [2, 1], "numResUnits": 0}, (1, 2, 8, 12, 10), 2, 22)
    network_case("net_basicunet", lambda: BasicUNet(3, 1, 3, features=(4, 4, 8, 8, 16, 4)),
                 {"type": "monai-basicunet", "in": 1, "out": 3, "features": [4, 4, 8, 8, 16, 4]}, (1, 1, 32, 32, 32), 3, 23)
    segresnets()


def segresnets():
    # SegResNet with group norm and trilinear upsampling (MONAI's defaults), and with affine instance norm,
    # LeakyReLU and transposed-convolution upsampling.
    network_case("net_segresnet", lambda: SegResNet(3, init_filters=4, in_channels=1, out_channels=3, blocks_down=(1, 2, 2), blocks_up=(1, 1),
                                                    norm=("GROUP", {"num_groups": 2})),
                 {"type": "monai-segresnet", "in": 1, "out": 3, "initFilters": 4, "blocksDown": [1, 2, 2], "blocksUp": [1, 1], "numGroups": 2},
                 (2, 1, 16, 12, 8), 3, 24)
    network_case("net_segresnet_deconv_instance", lambda: SegResNet(3, init_filters=4, in_channels=2, out_channels=2, blocks_down=(1, 1),
                                                                    blocks_up=(1,), norm=("INSTANCE", {"affine": True}),
                                                                    act=("LEAKYRELU", {"negative_slope": 0.1}), upsample_mode="deconv"),
                 {"type": "monai-segresnet", "in": 2, "out": 2, "initFilters": 4, "blocksDown": [1, 1], "blocksUp": [1], "norm": "instance-affine",
                  "act": "leakyrelu", "negativeSlope": 0.1, "upsampleMode": "deconv"},
                 (1, 2, 12, 10, 8), 2, 25)

    # DynUNet as nnU-Net builds it (instance norm with affine, LeakyReLU, transposed convolutions), and with
    # residual blocks, PReLU and an anisotropic first level.
    network_case("net_dynunet", lambda: DynUNet(3, 1, 3, kernel_size=[3, 3, 3], strides=[1, 2, 2], upsample_kernel_size=[2, 2],
                                                filters=[4, 8, 16]),
                 {"type": "monai-dynunet", "in": 1, "out": 3, "kernelSize": [3, 3, 3], "strides": [1, 2, 2], "upsampleKernelSize": [2, 2],
                  "filters": [4, 8, 16]},
                 (2, 1, 16, 12, 8), 3, 26)
    network_case("net_dynunet_res_prelu", lambda: DynUNet(3, 2, 2, kernel_size=[[1, 3, 3], 3, 3], strides=[1, [1, 2, 2], 2],
                                                          upsample_kernel_size=[[1, 2, 2], 2], filters=[4, 8, 8], res_block=True, act_name="prelu"),
                 {"type": "monai-dynunet", "in": 2, "out": 2, "kernelSize": [[1, 3, 3], 3, 3], "strides": [1, [1, 2, 2], 2],
                  "upsampleKernelSize": [[1, 2, 2], 2], "filters": [4, 8, 8], "resBlock": True, "act": "prelu"},
                 (1, 2, 8, 16, 12), 2, 27)


def classifier_case(name, make, config, x_shape, classes, seed):
    torch.manual_seed(seed)
    net = make()
    with torch.no_grad():
        for k, b in net.named_buffers():
            if k.endswith("running_mean"):
                b.uniform_(-0.2, 0.2)
            elif k.endswith("running_var"):
                b.uniform_(0.5, 1.5)
        for k, p in net.named_parameters():
            if ".bn" in k or k.startswith("bn") or "downsample.1" in k or ".norm" in k:
                p.uniform_(0.5, 1.5) if k.endswith("weight") else p.uniform_(-0.2, 0.2)
    net.train()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(*x_shape)
    labels = torch.randint(0, classes, (x_shape[0],))
    tensors = {"input": x, "target": labels.float()}
    tensors.update({"init." + k: v for k, v in init.items() if not k.endswith("num_batches_tracked")})
    loss = F.cross_entropy(net(x), labels)
    loss.backward()
    tensors["loss"] = loss.detach().reshape(1)
    for k, p in net.named_parameters():
        tensors["grad." + k] = p.grad
    for k, v in net.state_dict().items():
        if k.endswith(("running_mean", "running_var")):
            tensors["step1." + k] = v.clone()
    net.load_state_dict(init)
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-4)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(net(x), labels).backward()
        opt.step()
    for k, v in net.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            tensors["sgd." + k] = v.clone()
    save(name, tensors, config)


def densenets():
    # A small MONAI DenseNet (batch norm in training mode, dense concatenation, average-pooling transitions).
    classifier_case("cls_densenet_small", lambda: DenseNet(3, 1, 3, init_features=8, growth_rate=4, block_config=(2, 2), bn_size=2),
                    {"type": "monai-densenet", "in": 1, "out": 3, "initFeatures": 8, "growthRate": 4, "blockConfig": [2, 2], "bnSize": 2},
                    (3, 1, 16, 14, 12), 3, 33)


def classifiers():
    classifier_case("cls_resnet10", lambda: ResNet("basic", [1, 1, 1, 1], [4, 8, 8, 16], n_input_channels=1, num_classes=3,
                                                   conv1_t_size=3, conv1_t_stride=1),
                    {"type": "monai-resnet", "in": 1, "out": 3, "depth": 10, "blockInplanes": [4, 8, 8, 16], "conv1Size": 3},
                    (2, 1, 16, 16, 16), 3, 31)
    classifier_case("cls_resnet_bottleneck_nomaxpool", lambda: ResNet("bottleneck", [1, 2, 1, 1], [2, 4, 4, 8], n_input_channels=2,
                                                                      num_classes=2, conv1_t_size=5, conv1_t_stride=2, no_max_pool=True),
                    {"type": "monai-resnet", "in": 2, "out": 2, "block": "bottleneck", "layers": [1, 2, 1, 1],
                     "blockInplanes": [2, 4, 4, 8], "conv1Size": 5, "conv1Stride": 2, "noMaxPool": True},
                    (3, 2, 12, 14, 10), 2, 32)
    densenets()


if __name__ == "__main__":
    # A second argument writes one group of fixtures only (their seeds are their own, so the files come out the same).
    only = {"cls": classifiers, "winograd": winograd, "upsample": upsampling, "segresnet": segresnets, "densenet": densenets}
    if len(sys.argv) > 2:
        only[sys.argv[2]]()
        sys.exit(0)
    layers()
    losses()
    networks()
    classifiers()
    print("wrote", len(os.listdir(OUT)), "files to", OUT)
