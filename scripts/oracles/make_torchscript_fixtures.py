"""Exports the TorchScript fixtures of the checkpoint and bundle-import tests into Tests/Fixtures/checkpoints/:

- ct_tissue_unet_scripted.ts: torch.jit.script of the UNet of Tests/Fixtures/bundles/ct-tissue-bundle with that bundle's
  weights (models/model.pt), saved by torch.jit.save as MONAI's `ckpt_export` writes a bundle's models/model.ts.
- ct_dynunet_traced.ts: torch.jit.trace of the DynUNet of Tests/Fixtures/bundles/ct-dynunet-bundle with its weights
  (deep supervision: the archive holds the heads and the module reached both as `skip_layers` and by its own name).
- torchscript_without_constants.pt: a scripted Linear(2, 2) archive with its constants.pkl removed, so that it no longer
  reads as TorchScript; its data.pkl names a `__torch__` class, which a state-dict reader must refuse.

Run once with a venv holding torch and monai (scripts/setup-torch.sh):
    .venv-torch/bin/python scripts/oracles/make_torchscript_fixtures.py
"""
import io
import json
import os
import zipfile

import torch
from monai.networks.nets import DynUNet, UNet

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUNDLES = os.path.join(ROOT, "Tests", "Fixtures", "bundles")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "checkpoints")
torch.set_grad_enabled(False)


def network(bundle, cls):
    with open(os.path.join(BUNDLES, bundle, "configs", "inference.json")) as f:
        args = {k: v for k, v in json.load(f)["network_def"].items() if k != "_target_"}
    model = cls(**args)
    model.load_state_dict(torch.load(os.path.join(BUNDLES, bundle, "models", "model.pt"), weights_only=True))
    return model.eval()


torch.jit.save(torch.jit.script(network("ct-tissue-bundle", UNet)), os.path.join(OUT, "ct_tissue_unet_scripted.ts"))
torch.jit.save(torch.jit.trace(network("ct-dynunet-bundle", DynUNet), torch.randn(1, 1, 32, 32, 16)),
               os.path.join(OUT, "ct_dynunet_traced.ts"))

buffer = io.BytesIO()
torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buffer)
with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
        zipfile.ZipFile(os.path.join(OUT, "torchscript_without_constants.pt"), "w", zipfile.ZIP_STORED) as target:
    for item in source.infolist():
        if not item.filename.endswith("constants.pkl") and "/code/" not in item.filename:
            target.writestr(item, source.read(item.filename))
print("TorchScript fixtures written to", OUT)
