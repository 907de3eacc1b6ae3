#!/usr/bin/env python3
"""Overlap of retrieval and processing in `voxelflow run --input URL`: K copies of a CT series in Orthanc,
the bone segmentation pipeline (pipelines/ct-bone-segmentation.json), over DICOMweb and over DIMSE C-GET:

  pull : `voxelflow pull URL -o P` alone
  run  : `voxelflow run PIPELINE -i P -o R` alone, over the pulled folder
  both : `voxelflow run PIPELINE -i URL -o R2`, retrieval and processing together

The goal of the PACS issue: both ≤ 1.1 × max(pull, run). Each figure is a whole process, best and median of
N runs; R2's NIfTI and SEG files must equal R's. Runs inside Orthanc's network namespace
(Benchmarks/pacs_overlap.sh starts it and stores the copies).
Usage: pacs_overlap.py VOXELFLOW URL DICOM_PORT PASSWORD_FILE WORKDIR PIPELINE [--repeat N]
"""
import filecmp
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def run(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def same_outputs(a, b):
    """The NIfTI files of two runs' case folders are byte-identical, and both hold the same SEG files."""
    names = []
    for root, _, files in os.walk(os.path.join(a, "cases")):
        for f in files:
            if f.endswith(".nii.gz"):
                rel = os.path.relpath(os.path.join(root, f), a)
                if not filecmp.cmp(os.path.join(a, rel), os.path.join(b, rel), shallow=False):
                    return False
                names.append(rel)
    segs = lambda d: sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(os.path.join(d, "cases")) for f in fs if f.endswith(".dcm"))
    return bool(names) and segs(a) == segs(b)


def main():
    vf, url, port, password_file, work, pipeline = sys.argv[1:7]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    sources = {
        "dicomweb": [url + "/dicom-web", "--user", "voxelflow", "--password-file", password_file],
        "dimse": ["dimse://ORTHANC@127.0.0.1:%s" % port, "--calling-ae", "VOXELFLOW"],
    }
    result = {}
    for name, source in sources.items():
        times = {"pull": [], "run": [], "both": []}
        same = True
        for r in range(repeat):
            pulled, alone, together = (os.path.join(work, f"{name}-{k}-{r}") for k in ("pulled", "run", "both"))
            for d in (pulled, alone, together):
                shutil.rmtree(d, ignore_errors=True)
            times["pull"].append(run([vf, "pull", source[0], "-o", pulled, "--modality", "CT", "-q"] + source[1:]))
            times["run"].append(run([vf, "run", pipeline, "-i", pulled, "-o", alone, "-q"]))
            times["both"].append(run([vf, "run", pipeline, "-i", source[0], "-o", together, "--modality", "CT", "-q"] + source[1:]))
            same = same and same_outputs(alone, together)
            cases = sum(1 for _ in open(os.path.join(together, "manifest.jsonl")))
        best = {k: min(v) for k, v in times.items()}
        median = {k: statistics.median(v) for k, v in times.items()}
        result[name] = {
            "cases": cases,
            "best": best,
            "median": median,
            "overlap_ratio_best": best["both"] / max(best["pull"], best["run"]),
            "overlap_ratio_median": median["both"] / max(median["pull"], median["run"]),
            "serial_ratio_median": median["both"] / (median["pull"] + median["run"]),
            "same_outputs": same,
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
