"""Runner overhead: how much time `voxelflow run` spends per case beyond its stages.

Makes N tiny cases (8x8x8 int16 NIfTI, gzip) and runs a two-stage pipeline (threshold, write-nifti) over them
with --jobs 1. Overhead per case = (wall time of the whole command - process start-up - the stage and input
load times recorded in the manifest) / N. Start-up is measured by running the same pipeline on an empty
archive. For scale, the same work is done by a plain Python loop with nibabel (load, threshold, save).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import nibabel as nib
import numpy as np

from benchlib import best_of

PIPELINE = {
    "voxelflow": 1,
    "name": "runner-overhead",
    "inputs": {"ct": {"type": "nifti", "pattern": "*.nii.gz"}},
    "stages": [
        {"id": "mask", "type": "threshold", "source": "ct", "lower": 0},
        {"id": "write", "type": "write-nifti", "source": "mask", "path": "mask.nii.gz"},
    ],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("voxelflow")
    ap.add_argument("work")
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    archive = os.path.join(a.work, "archive")
    empty = os.path.join(a.work, "empty")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(archive)
    os.makedirs(empty)
    rng = np.random.default_rng(0)
    for n in range(a.cases):
        data = rng.integers(-1000, 1000, size=(8, 8, 8)).astype(np.int16)
        nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), os.path.join(archive, "case%04d.nii.gz" % n))
    pipeline = os.path.join(a.work, "pipeline.json")
    with open(pipeline, "w") as f:
        json.dump(PIPELINE, f)

    def run(src, out):
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([a.voxelflow, "run", pipeline, "-i", src, "-o", out, "--jobs", "1", "-q"], check=True)

    startup, _ = best_of(a.repeat, lambda: run(empty, os.path.join(a.work, "out-empty")))
    out = os.path.join(a.work, "out")
    wall, walls = best_of(a.repeat, lambda: run(archive, out))
    stage_total = 0.0
    with open(os.path.join(out, "manifest.jsonl")) as f:
        lines = [json.loads(l) for l in f]
    assert len(lines) == a.cases and all(l["status"] == "ok" for l in lines)
    for l in lines:
        stage_total += sum(t["seconds"] for t in l["timings"])
    overhead = (wall - startup - stage_total) / a.cases

    def python_loop():
        dst = os.path.join(a.work, "out-python")
        shutil.rmtree(dst, ignore_errors=True)
        os.makedirs(dst)
        for name in sorted(os.listdir(archive)):
            img = nib.load(os.path.join(archive, name))
            mask = (np.asarray(img.dataobj) >= 0).astype(np.uint8)
            os.makedirs(os.path.join(dst, name[:-7]))
            nib.save(nib.Nifti1Image(mask, img.affine), os.path.join(dst, name[:-7], "mask.nii.gz"))

    py, _ = best_of(a.repeat, python_loop)
    print("cases: %d (8x8x8 int16), --jobs 1, best of %d" % (a.cases, a.repeat))
    print("voxelflow run wall: %.3f s (all runs: %s); start-up on an empty archive: %.3f s" % (wall, ", ".join("%.3f" % w for w in walls), startup))
    print("stage + input load time recorded in the manifest: %.3f s" % stage_total)
    print("runner overhead per case: %.3f ms (goal < 5 ms)" % (overhead * 1000))
    print("voxelflow per case, everything included: %.3f ms" % ((wall - startup) / a.cases * 1000))
    print("nibabel loop, same work: %.3f s = %.3f ms per case; ratio %.2fx" % (py, py / a.cases * 1000, py / wall))


if __name__ == "__main__":
    sys.exit(main())
