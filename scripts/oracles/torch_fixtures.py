"""Helpers shared by the scripts that export PyTorch fixtures (export_nn_refs.py, export_network_variants.py)."""
import torch


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
