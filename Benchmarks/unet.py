"""MONAI UNet inference, VoxelFlow vs PyTorch on the same weights and input, same run.

UNet(spatial_dims=3, in=1, out=2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)
on a 1x1x96x96x96 input, PyTorch with 2 threads (torch.set_num_threads(2)), eval mode, no grad. The
weights and input go to a safetensors file that voxelflow-bench reads; outputs are compared.
Usage: unet.py VOXELFLOW_BENCH WORKDIR [--repeat N] [--size S]
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from monai.networks.nets import UNet
from safetensors.torch import save_file


def main():
    bench, work = sys.argv[1:3]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    size = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else 96
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    torch.set_grad_enabled(False)
    config = {"type": "monai-unet", "in": 1, "out": 2, "channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2], "numResUnits": 2}
    model = UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2).eval()
    x = torch.randn(1, 1, size, size, size)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        y = model(x)
        times.append(time.perf_counter() - t)
    path = os.path.join(work, "unet_bench.safetensors")
    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    tensors["input"] = x.contiguous()
    save_file(tensors, path, metadata={"config": json.dumps(config)})
    dump = os.path.join(work, "unet_out.raw")
    vf = json.loads(subprocess.run([bench, "unet", path, "--repeat", str(repeat), "--dump", dump], check=True, capture_output=True, text=True).stdout)
    ours = np.fromfile(dump, np.float32)
    worst = float(np.abs(ours - y.numpy().ravel()).max())
    print(json.dumps({"size": size, "pytorch_s": min(times), "voxelflow_s": vf["best"], "speedup": min(times) / vf["best"],
                      "pytorch_runs": times, "voxelflow_runs": vf["times"], "max_abs_difference": worst, "torch": torch.__version__}, indent=2))
    print(f"MONAI UNet {size}^3: PyTorch {min(times):.3f} s, voxelflow {vf['best']:.3f} s -> {min(times) / vf['best']:.2f}x "
          f"(max |difference| {worst:.3g})", file=sys.stderr)


if __name__ == "__main__":
    main()
