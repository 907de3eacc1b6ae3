"""MONAI bundle inference, VoxelFlow vs MONAI, on the same CT in the same run.

VoxelFlow: `voxelflow import-bundle` once, then `voxelflow run` of a one-stage pipeline (`segment` with the
package). MONAI: `python -m monai.bundle run` with the bundle's own inference.json. The bundle is the test
fixture Tests/Fixtures/bundles/ct-tissue-bundle (a MONAI UNet, Orientationd + Spacingd 1.2×1.2×1.8 mm +
ScaleIntensityRanged, SlidingWindowInferer 96×96×64, Activationsd + Invertd + AsDiscreted). Inputs: the
sample head CT (256×256×108) and the same CT upsampled to 512×512×324. Wall time and peak resident memory of the
whole command (GNU time), best of N; Python's start-up and imports are measured separately.
Usage: bundle.py VOXELFLOW WORK [--repeat N]
"""
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUNDLE = os.path.join(ROOT, "Tests", "Fixtures", "bundles", "ct-tissue-bundle")


def timed(cmd):
    """(seconds, peak RSS MB) of one command."""
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    seconds, kb = r.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024


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
    package = os.path.join(work, "package")
    shutil.rmtree(package, ignore_errors=True)
    subprocess.run([vf, "import-bundle", BUNDLE, "-o", package], check=True, capture_output=True)
    pipeline = os.path.join(work, "bundle-pipeline.json")
    with open(pipeline, "w") as f:
        f.write('{ "voxelflow": 1, "name": "bundle", "inputs": { "ct": { "type": "nifti", "pattern": "*.nii.gz" } },\n'
                f'  "stages": [ {{ "id": "seg", "type": "segment", "source": "ct", "model": "{package}" }},\n'
                '              { "id": "write", "type": "write-nifti", "source": "seg", "path": "seg.nii.gz" } ] }\n')
    startup, _ = min(timed([sys.executable, "-c", "import torch, monai, monai.bundle, ignite, nibabel"]) for _ in range(repeat))
    print(f"Python start-up with torch, monai, ignite imported: {startup:.2f} s (part of every MONAI figure below)")
    print("| input | VoxelFlow s | MONAI s | ratio | MONAI s without start-up | ratio | VoxelFlow peak MB | MONAI peak MB | memory ratio | voxels agreeing |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, scan in (("256×256×108", small), ("512×512×324", big)):
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
            theirs.append(timed([sys.executable, "-m", "monai.bundle", "run", "--config_file", os.path.join(BUNDLE, "configs", "inference.json"),
                                 "--meta_file", os.path.join(BUNDLE, "configs", "metadata.json"), "--bundle_root", BUNDLE,
                                 "--dataset_dir", data, "--output_dir", mout]))
        a = np.asarray(nib.load(os.path.join(work, "vf-out", "cases", "ct", "seg.nii.gz")).dataobj)
        produced = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(work, "monai-out")) for f in fs if f.endswith(".nii.gz")]
        b = np.asarray(nib.load(produced[0]).dataobj).squeeze()
        t_vf, m_vf = min(x[0] for x in ours), max(x[1] for x in ours)
        t_mo, m_mo = min(x[0] for x in theirs), max(x[1] for x in theirs)
        print(f"| {name} | {t_vf:.2f} | {t_mo:.2f} | {t_mo / t_vf:.2f}× | {t_mo - startup:.2f} | {(t_mo - startup) / t_vf:.2f}× | {m_vf:.0f} | {m_mo:.0f} | "
              f"{m_vf / m_mo:.2f} | {(a == b).mean() * 100:.4f} % |")


if __name__ == "__main__":
    main()
