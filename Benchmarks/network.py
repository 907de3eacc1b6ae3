"""MONAI networks and sliding-window inference, VoxelFlow vs PyTorch on the same weights and input, same run.

Models (PyTorch CPU, torch.set_num_threads(2), eval mode, no grad):
  unet       UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)
  basicunet  BasicUNet(3, 1, 2)  (features 32, 32, 64, 128, 256, 32)
  segresnet  SegResNet at MONAI's whole-body CT bundle configuration (init_filters 32, blocks 1,2,2,4 / 1,1,1, 105 classes)
  dynunet    DynUNet as nnU-Net plans a 3D full-resolution network (6 levels, kernels 3, strides 1,2,2,2,2,2,
             filters 32…320, instance norm with affine, LeakyReLU)
  densenet   DenseNet121(3, 1, 2) (a classifier: one score per class)
  swinunetr  SwinUNETR at MONAI's BTCV bundle configuration (feature_size 48, 14 classes)
With --window: MONAI sliding_window_inference(roi 96³, sw_batch_size 1, overlap 0.5, mode="gaussian") of the
chosen model over a volume of --volume D H W (default 108 164 164), against voxelflow's SlidingWindow.predict
(same full-resolution output); voxelflow's streamed-labels path is timed too.
Weights and input go to a safetensors file that voxelflow-bench reads; outputs are compared.
Usage: network.py VOXELFLOW_BENCH WORKDIR [--model unet|basicunet|segresnet|dynunet|swinunetr|densenet] [--repeat N] [--size S] [--window] [--volume D H W]
"""
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import BasicUNet, DenseNet121, DynUNet, SegResNet, SwinUNETR, UNet
from safetensors.torch import save_file


def arg(name, default, count=1):
    if name not in sys.argv:
        return default
    i = sys.argv.index(name)
    values = sys.argv[i + 1:i + 1 + count]
    return values[0] if count == 1 else values


def main():
    bench, work = sys.argv[1:3]
    model_name = arg("--model", "unet")
    repeat = int(arg("--repeat", "3"))
    size = int(arg("--size", "96"))
    window = "--window" in sys.argv
    volume = [int(v) for v in arg("--volume", ["108", "164", "164"], 3)]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    torch.set_grad_enabled(False)
    if model_name == "unet":
        config = {"type": "monai-unet", "in": 1, "out": 2, "channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2], "numResUnits": 2}
        model = UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2).eval()
    elif model_name == "segresnet":
        config = {"type": "monai-segresnet", "in": 1, "out": 105, "initFilters": 32, "blocksDown": [1, 2, 2, 4], "blocksUp": [1, 1, 1]}
        model = SegResNet(3, init_filters=32, in_channels=1, out_channels=105, blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1)).eval()
    elif model_name == "dynunet":
        config = {"type": "monai-dynunet", "in": 1, "out": 2, "kernelSize": [3] * 6, "strides": [1, 2, 2, 2, 2, 2], "upsampleKernelSize": [2] * 5}
        model = DynUNet(3, 1, 2, kernel_size=[3] * 6, strides=[1, 2, 2, 2, 2, 2], upsample_kernel_size=[2] * 5).eval()
    elif model_name == "swinunetr":
        config = {"type": "monai-swinunetr", "in": 1, "out": 14, "featureSize": 48}
        model = SwinUNETR(1, 14, feature_size=48).eval()
    elif model_name == "densenet":
        config = {"type": "monai-densenet", "in": 1, "out": 2}
        model = DenseNet121(spatial_dims=3, in_channels=1, out_channels=2).eval()
    else:
        config = {"type": "monai-basicunet", "in": 1, "out": 2, "features": [32, 32, 64, 128, 256, 32]}
        model = BasicUNet(3, 1, 2).eval()
    x = torch.randn(1, 1, *(volume if window else [size] * 3))
    settings = {"roi": [96, 96, 96], "overlap": 0.5, "batch": 1}
    run = (lambda: sliding_window_inference(x, (96, 96, 96), 1, model, overlap=0.5, mode="gaussian")) if window else (lambda: model(x))
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        y = run()
        times.append(time.perf_counter() - t)
    torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path = os.path.join(work, "network_bench.safetensors")
    tensors = {k: v.contiguous().clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    tensors["input"] = x.contiguous()
    save_file(tensors, path, metadata={"config": json.dumps(config), "window": json.dumps(settings)})
    dump = os.path.join(work, "network_out.raw")
    command = [bench, "sliding-window" if window else "network", path, "--repeat", str(repeat), "--dump", dump]
    vf = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    ours = np.fromfile(dump, np.float32)
    worst = float(np.abs(ours - y.numpy().ravel()).max())
    what = f"sliding window {model_name} over {'x'.join(map(str, volume))}" if window else f"{model_name} {size}^3"
    result = {"what": what, "pytorch_s": min(times), "voxelflow_s": vf["best"], "speedup": min(times) / vf["best"],
              "pytorch_runs": times, "voxelflow_runs": vf["times"], "max_abs_difference": worst, "torch": torch.__version__,
              "pytorch_peak_rss_mb_incl_python": torch_rss, "voxelflow_peak_rss_mb": vf["peak_rss_mb"]}
    if window:
        result["voxelflow_labels_s"] = vf["labels_best"]
        result["windows"] = vf["windows"]
    print(json.dumps(result, indent=2))
    print(f"{what}: PyTorch {min(times):.3f} s, voxelflow {vf['best']:.3f} s -> {min(times) / vf['best']:.2f}x "
          f"(max |difference| {worst:.3g})", file=sys.stderr)


if __name__ == "__main__":
    main()
