"""Converts a PyTorch/MONAI checkpoint (.pt/.pth) to safetensors for VoxelFlow's networks.

Accepts a bare state_dict or a dict holding one under "state_dict", "model" or "net" (as MONAI's
CheckpointSaver and common training scripts write), strips a DataParallel "module." prefix, keeps the
floating-point tensors under their PyTorch names (the names VoxelFlow's MONAI networks read, e.g.
"model.0.conv.unit0.conv.weight") and records the source file's name in the metadata.
Usage: .venv-torch/bin/python scripts/convert_checkpoint.py CHECKPOINT.pt OUT.safetensors [--config JSON]
(scripts/setup-torch.sh creates the venv.) Loads with weights_only=True: no code from the file is run.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    config = sys.argv[sys.argv.index("--config") + 1] if "--config" in sys.argv else None
    obj = torch.load(source, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "net"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        sys.exit(f"{source}: no state_dict found")
    tensors = {}
    for name, value in obj.items():
        if not torch.is_tensor(value) or not value.dtype.is_floating_point:
            continue
        if name.startswith("module."):
            name = name[len("module."):]
        tensors[name] = value.detach().to(torch.float32).contiguous()
    metadata = {"source": os.path.basename(source)}
    if config:
        json.loads(config)  # must be valid JSON
        metadata["config"] = config
    save_file(tensors, target, metadata=metadata)
    print(f"wrote {target}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
