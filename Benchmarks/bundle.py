"""MONAI bundle inference, VoxelFlow vs MONAI, on the same CT in the same run.

VoxelFlow: `voxelflow import-bundle` once, then `voxelflow run` of a one-stage pipeline (`segment` with the
package). MONAI: `python -m monai.bundle run` with the bundle's own inference.json. The bundle is the test
fixture Tests/Fixtures/bundles/ct-tissue-bundle (a MONAI UNet, Orientationd + Spacingd 1.2×1.2×1.8 mm +
ScaleIntensityRanged, SlidingWindowInferer 96×96×64, Activationsd + Invertd + AsDiscreted). Inputs: the
sample head CT (256×256×108) and the same CT upsampled to 512×512×324. Wall time and peak resident memory of the
whole command (GNU time), best of N; Python's start-up and imports are measured separately.
With --wholebody SPACING (3 or 1.5): the bundle is instead one in the configuration of MONAI's whole-body CT bundle
(SegResNet, 32 initial filters, 105 classes; Orientationd RAS, Spacingd to SPACING mm, ScaleIntensityRanged,
SlidingWindowInferer 96³ with MONAI's default overlap, softmax, Invertd, argmax), with random weights (the published
weights are not reachable from this machine; time and memory do not depend on the values). MONAI runs under an
address-space limit (--limit-gb, default 22) so that running out of memory ends its run instead of the machine's.
Usage: bundle.py VOXELFLOW WORK [--repeat N] [--wholebody 3|1.5] [--limit-gb G] [--inputs small|big|both]
"""
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUNDLE = os.path.join(ROOT, "Tests", "Fixtures", "bundles", "ct-tissue-bundle")


def timed(cmd, limit_kb=None, may_fail=False):
    """(seconds, peak RSS MB) of one command; None when it fails and may_fail."""
    prefix = ["prlimit", f"--as={limit_kb * 1024}"] if limit_kb else []
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + prefix + cmd, capture_output=True, text=True)
    if r.returncode != 0:
        if may_fail:
            print(f"failed (status {r.returncode}): {r.stderr.strip().splitlines()[-2:] if r.stderr.strip() else ''}", file=sys.stderr)
            return None
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    seconds, kb = r.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024


def wholebody_bundle(work, spacing):
    """A bundle folder in the whole-body CT bundle's network configuration, random weights."""
    import json
    import torch
    from monai.networks.nets import SegResNet
    folder = os.path.join(work, f"wholebody-{spacing}mm")
    shutil.rmtree(folder, ignore_errors=True)
    for d in ("configs", "models"):
        os.makedirs(os.path.join(folder, d))
    with open(os.path.join(BUNDLE, "configs", "inference.json")) as f:
        inference = json.load(f)
    inference["network_def"] = {"_target_": "SegResNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 105, "init_filters": 32,
                                "blocks_down": [1, 2, 2, 4], "blocks_up": [1, 1, 1], "dropout_prob": 0.2}
    for t in inference["preprocessing"]["transforms"]:
        if t["_target_"] == "Spacingd":
            t["pixdim"] = [spacing] * 3
        if t["_target_"] == "ScaleIntensityRanged":
            t.update({"a_min": -1024, "a_max": 1024, "b_min": -1, "b_max": 1})
    inference["inferer"] = {"_target_": "SlidingWindowInferer", "roi_size": [96, 96, 96], "sw_batch_size": 1}
    with open(os.path.join(folder, "configs", "inference.json"), "w") as f:
        json.dump(inference, f, indent=2)
    with open(os.path.join(BUNDLE, "configs", "metadata.json")) as f:
        metadata = json.load(f)
    metadata["name"] = "wholebody_ct_configuration"
    metadata["network_data_format"]["outputs"]["pred"]["num_channels"] = 105
    metadata["network_data_format"]["outputs"]["pred"]["channel_def"] = {str(i): f"structure {i}" for i in range(105)}
    with open(os.path.join(folder, "configs", "metadata.json"), "w") as f:
        json.dump(metadata, f, indent=2)
    torch.manual_seed(0)
    torch.save(SegResNet(3, init_filters=32, in_channels=1, out_channels=105, blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1)).state_dict(),
               os.path.join(folder, "models", "model.pt"))
    return folder


def main():
    vf, work = sys.argv[1], os.path.abspath(sys.argv[2])
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    os.makedirs(work, exist_ok=True)
    small = os.path.join(ROOT, "sample-data", "nifti", "ct_head_hu.nii.gz")
    big = os.path.join(work, "ct_head_512.nii.gz")
    if not os.path.exists(big):
        from scipy import ndimage
        src = nib.load(small)
        data = np.asanyarray(src.dataobj).astype(np.float32)
        zoom = (512 / data.shape[0], 512 / data.shape[1], 324 / data.shape[2])
        affine = src.affine.copy()
        affine[:3, :3] = affine[:3, :3] @ np.diag(1 / np.array(zoom))
        nib.save(nib.Nifti1Image(np.rint(ndimage.zoom(data, zoom, order=1)).astype(np.int16), affine), big)
    bundle = BUNDLE
    wholebody = float(sys.argv[sys.argv.index("--wholebody") + 1]) if "--wholebody" in sys.argv else None
    limit_kb = int(float(sys.argv[sys.argv.index("--limit-gb") + 1]) * 1024 * 1024) if "--limit-gb" in sys.argv else 22 * 1024 * 1024
    which = sys.argv[sys.argv.index("--inputs") + 1] if "--inputs" in sys.argv else "both"
    if wholebody:
        bundle = wholebody_bundle(work, wholebody)
        print(f"whole-body CT bundle configuration at {wholebody} mm (random weights); MONAI limited to {limit_kb / 1024 / 1024:.0f} GB of address space")
    package = os.path.join(work, "package")
    shutil.rmtree(package, ignore_errors=True)
    subprocess.run([vf, "import-bundle", bundle, "-o", package], check=True, capture_output=True)
    pipeline = os.path.join(work, "bundle-pipeline.json")
    with open(pipeline, "w") as f:
        f.write('{ "voxelflow": 1, "name": "bundle", "inputs": { "ct": { "type": "nifti", "pattern": "*.nii.gz" } },\n'
                f'  "stages": [ {{ "id": "seg", "type": "segment", "source": "ct", "model": "{package}" }},\n'
                '              { "id": "write", "type": "write-nifti", "source": "seg", "path": "seg.nii.gz" } ] }\n')
    startup, _ = min(timed([sys.executable, "-c", "import torch, monai, monai.bundle, ignite, nibabel"]) for _ in range(repeat))
    print(f"Python start-up with torch, monai, ignite imported: {startup:.2f} s (part of every MONAI figure below)")
    print("| input | VoxelFlow s | MONAI s | ratio | MONAI s without start-up | ratio | VoxelFlow peak MB | MONAI peak MB | memory ratio | voxels agreeing |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    inputs = [("256×256×108", small), ("512×512×324", big)]
    inputs = inputs[:1] if which == "small" else inputs[1:] if which == "big" else inputs
    for name, scan in inputs:
        data = os.path.join(work, "in-" + name[:3])
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        shutil.copy(scan, os.path.join(data, "ct.nii.gz"))
        ours, theirs = [], []
        for _ in range(repeat):
            out = os.path.join(work, "vf-out")
            shutil.rmtree(out, ignore_errors=True)
            ours.append(timed([vf, "run", pipeline, "-i", data, "-o", out, "-q"]))
            mout = os.path.join(work, "monai-out")
            shutil.rmtree(mout, ignore_errors=True)
            theirs.append(timed([sys.executable, "-m", "monai.bundle", "run", "--config_file", os.path.join(bundle, "configs", "inference.json"),
                                 "--meta_file", os.path.join(bundle, "configs", "metadata.json"), "--bundle_root", bundle,
                                 "--dataset_dir", data, "--output_dir", mout], limit_kb=limit_kb, may_fail=True))
        t_vf, m_vf = min(x[0] for x in ours), max(x[1] for x in ours)
        if any(x is None for x in theirs):
            print(f"| {name} | {t_vf:.2f} | did not finish within {limit_kb / 1024 / 1024:.0f} GB | | | | {m_vf:.0f} | > {limit_kb / 1024:.0f} | | |")
            continue
        a = np.asarray(nib.load(os.path.join(work, "vf-out", "cases", "ct", "seg.nii.gz")).dataobj)
        produced = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(work, "monai-out")) for f in fs if f.endswith(".nii.gz")]
        b = np.asarray(nib.load(produced[0]).dataobj).squeeze()
        t_mo, m_mo = min(x[0] for x in theirs), max(x[1] for x in theirs)
        print(f"| {name} | {t_vf:.2f} | {t_mo:.2f} | {t_mo / t_vf:.2f}× | {t_mo - startup:.2f} | {(t_mo - startup) / t_vf:.2f}× | {m_vf:.0f} | {m_mo:.0f} | "
              f"{m_vf / m_mo:.2f} | {(a == b).mean() * 100:.4f} % |")


if __name__ == "__main__":
    main()
