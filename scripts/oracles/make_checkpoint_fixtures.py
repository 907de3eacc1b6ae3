"""Writes the PyTorch checkpoint fixtures of the checkpoint-reader tests.

Usage: .venv-torch/bin/python scripts/oracles/make_checkpoint_fixtures.py OUT_DIR

state_dict.pth     torch.save of a state dict with float32, float16, bfloat16, float64 and int64 tensors, a
                   transposed (non-contiguous) view, a view with a storage offset and two tensors sharing a storage,
                   next to plain Python data (nested dict, list, tuple, numpy float64 scalar, torch.device);
state_dict.safetensors  the same tensors as contiguous float32 (the oracle torch.load gives);
hostile_system.pth  a pickle whose global is posix.system (what `__reduce__` payloads use);
hostile_eval.pth    a builtins.eval call via REDUCE;
truncated.pth      state_dict.pth cut in half;
past_end.pth       a tensor view that reads past the end of its storage;
legacy.pth         the pre-1.6 (non-zip) format;
nnunet_2d_fold0.safetensors  fold 0 of the 2-D nnU-Net fixture as safetensors (aliases left out).
"""
import collections
import io
import os
import pickle
import sys
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(1)

base = torch.randn(6, 5)
shared = torch.arange(12, dtype=torch.float32)
tensors = collections.OrderedDict([
    ("conv.weight", torch.randn(4, 2, 3, 3, 3)),
    ("conv.bias", torch.randn(4)),
    ("half", torch.randn(7).half()),
    ("bf16", torch.randn(3, 2).bfloat16()),
    ("double", torch.randn(2, 2).double()),
    ("steps", torch.tensor([3, -2, 7], dtype=torch.int64)),
    ("transposed", base.t()),
    ("offset", shared[4:10].view(2, 3)),
    ("shared_head", shared[:4]),
])
checkpoint = {
    "network_weights": tensors,
    "init_args": {"configuration": "3d_fullres", "fold": 0, "device": torch.device("cpu"), "nested": [1, (2.5, "x"), {"k": None}]},
    "trainer_name": "nnUNetTrainer",
    "inference_allowed_mirroring_axes": (0, 1, 2),
    "ema": np.float64(0.25),
    "flag": True,
}
torch.save(checkpoint, os.path.join(out, "state_dict.pth"))
save_file({k: v.float().contiguous() for k, v in tensors.items()}, os.path.join(out, "state_dict.safetensors"))

data = open(os.path.join(out, "state_dict.pth"), "rb").read()
open(os.path.join(out, "truncated.pth"), "wb").write(data[: len(data) // 2])
torch.save({"w": torch.ones(3)}, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)


def archive(name, pickle_bytes, storages=None):
    with zipfile.ZipFile(os.path.join(out, name), "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", "little")
        for key, raw in (storages or {}).items():
            z.writestr(f"archive/data/{key}", raw)


class System:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class Eval:
    def __reduce__(self):
        return (eval, ("1+1",))


archive("hostile_system.pth", pickle.dumps({"network_weights": System()}, protocol=2))
archive("hostile_eval.pth", pickle.dumps([Eval()], protocol=2))

# A tensor of 10 elements over a storage of 4 floats: the persistent id and the rebuild call written by hand.
p = io.BytesIO()
p.write(b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01ctorch._utils\n_rebuild_tensor_v2\nq\x02(")
p.write(b"(X\x07\x00\x00\x00storageq\x03ctorch\nFloatStorage\nq\x04X\x01\x00\x00\x000q\x05X\x03\x00\x00\x00cpuq\x06K\x04tq\x07Q")
p.write(b"K\x00K\n\x85q\x08K\x01\x85q\tK\x00\x89tq\nRq\x0bs.")
archive("past_end.pth", p.getvalue(), {"0": np.arange(4, dtype="<f4").tobytes()})
print("wrote", out)

# The 2-D nnU-Net fixture's fold 0 network weights as safetensors (same tensor names as network_weights).
fold0 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/Fixtures/nnunet/models/nnUNetPlans__2d/fold_0/checkpoint_final.pth")
if os.path.exists(fold0):
    weights = torch.load(fold0, map_location="cpu", weights_only=False)["network_weights"]
    # PyTorch's aliases of the same tensors (all_modules, decoder.encoder) are left out, as safetensors requires.
    kept = {k: v.clone().contiguous() for k, v in weights.items() if ".all_modules." not in k and not k.startswith("decoder.encoder.")}
    save_file(kept, os.path.join(out, "nnunet_2d_fold0.safetensors"))
