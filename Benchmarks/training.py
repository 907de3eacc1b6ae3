"""Training steps, VoxelFlow vs PyTorch + MONAI on the same weights and batch, same run.

One step = forward in training mode, DiceCELoss(to_onehot_y=True, softmax=True), backward, Adam (lr 1e-3).
Models (PyTorch CPU, torch.set_num_threads(2)):
  unet       UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)
  basicunet  BasicUNet(3, 1, 2)  (features 32, 32, 64, 128, 256, 32)
  segresnet  SegResNet(3, init_filters=16, in_channels=1, out_channels=2)  (MONAI's defaults otherwise: blocks 1-2-2-4 / 1-1-1,
             group norm with 8 groups, ReLU, trilinear upsampling)
  dynunet    DynUNet(3, 1, 2, kernel_size=[3]*5, strides=[1, 2, 2, 2, 2], upsample_kernel_size=[2]*4, filters 32…320
             (as nnU-Net plans a 3d_fullres network; instance norm with affine, LeakyReLU)
  densenet   DenseNet121(spatial_dims=3, in_channels=1, out_channels=2), cross-entropy like resnet18
  resnet18   ResNet("basic", [2, 2, 2, 2], [64, 128, 256, 512], n_input_channels=1, num_classes=2) (MONAI resnet18),
             trained with cross-entropy on one random class per sample instead of DiceCE (batch norm in training mode)
Batch --batch (2) of --size³ (64) random input with random labels. The tools alternate for --rounds rounds (3) of
--steps steps each (the machine's speed drifts; alternating exposes both tools to the same drift). The first step
of each round is a warm-up and is reported but not used for the median. Losses of the first steps are printed for both (same weights and batch,
so they agree to float rounding).
Usage: training.py VOXELFLOW_BENCH WORKDIR [--model unet|basicunet|segresnet|dynunet|resnet18|densenet] [--steps N] [--rounds R] [--size S] [--batch B]
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
from monai.losses import DiceCELoss
from monai.networks.nets import BasicUNet, DenseNet121, DynUNet, ResNet, SegResNet, UNet
from safetensors.torch import save_file


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    bench, work = sys.argv[1:3]
    model_name = arg("--model", "unet")
    steps = int(arg("--steps", "6"))
    size = int(arg("--size", "64"))
    batch = int(arg("--batch", "2"))
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    classifier = model_name in ("resnet18", "densenet")
    if model_name == "densenet":
        config = {"type": "monai-densenet", "in": 1, "out": 2}
        model = DenseNet121(spatial_dims=3, in_channels=1, out_channels=2)
    elif classifier:
        config = {"type": "monai-resnet", "in": 1, "out": 2, "depth": 18}
        model = ResNet("basic", [2, 2, 2, 2], [64, 128, 256, 512], n_input_channels=1, num_classes=2)
    elif model_name == "unet":
        config = {"type": "monai-unet", "in": 1, "out": 2, "channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2], "numResUnits": 2}
        model = UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)
    elif model_name == "dynunet":
        config = {"type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3, 3, 3, 3, 3], "strides": [1, 2, 2, 2, 2],
                  "upsampleKernelSize": [2, 2, 2, 2], "filters": [32, 64, 128, 256, 320]}
        model = DynUNet(3, 1, 2, kernel_size=[3] * 5, strides=[1, 2, 2, 2, 2], upsample_kernel_size=[2] * 4, filters=[32, 64, 128, 256, 320])
    elif model_name == "segresnet":
        config = {"type": "monai-segresnet", "in": 1, "out": 2, "initFilters": 16}
        model = SegResNet(3, init_filters=16, in_channels=1, out_channels=2)
    else:
        config = {"type": "monai-basicunet", "in": 1, "out": 2, "features": [32, 32, 64, 128, 256, 32]}
        model = BasicUNet(3, 1, 2)
    model.train()
    x = torch.randn(batch, 1, size, size, size)
    y = torch.randint(0, 2, (batch,)) if classifier else (torch.rand(batch, 1, size, size, size) > 0.7).long()
    path = os.path.join(work, "training_bench.safetensors")
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    tensors["input"] = x
    tensors["target"] = y.float() if classifier else y[:, 0].float()
    save_file(tensors, path, metadata={"config": json.dumps(config)})

    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    loss_fn = torch.nn.CrossEntropyLoss() if classifier else DiceCELoss(to_onehot_y=True, softmax=True)
    rounds = int(arg("--rounds", "3"))
    vf_times, vf_steady, pt_times, pt_steady, losses = [], [], [], [], []
    vf = None
    for _ in range(rounds):
        # VoxelFlow as its own process (its peak memory is its own), then PyTorch from the same initial weights.
        out = subprocess.run([bench, "train-step", path, "--repeat", str(steps)], check=True, capture_output=True, text=True).stdout
        vf = json.loads(out.strip().splitlines()[-1])
        vf_times.append(vf["times"])
        vf_steady += vf["times"][1:]
        model.load_state_dict(init)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times, losses = [], []
        for _ in range(steps):
            t = time.perf_counter()
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
            losses.append(float(loss))
        pt_times.append(times)
        pt_steady += times[1:]
    torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    vf_median = statistics.median(vf_steady)
    pt_median = statistics.median(pt_steady)
    print(json.dumps({"model": model_name, "batch": batch, "size": size, "steps": steps, "rounds": rounds,
                      "voxelflow": {"times": [[round(t, 4) for t in r] for r in vf_times], "median": round(vf_median, 4),
                                    "peak_rss_mb": round(vf["peak_rss_mb"]), "losses": [round(v, 6) for v in vf["losses"][:3]]},
                      "pytorch": {"times": [[round(t, 4) for t in r] for r in pt_times], "median": round(pt_median, 4),
                                  "peak_rss_mb": round(torch_rss), "losses": [round(v, 6) for v in losses[:3]]},
                      "speedup": round(pt_median / vf_median, 3)}, indent=1))


if __name__ == "__main__":
    main()
