#!/usr/bin/env python3
"""Retrieval from a PACS to NIfTI on disk, end to end (search → files → NIfTI), same series, same run:

  voxelflow : `voxelflow pull URL --modality CT` (QIDO-RS + WADO-RS) then `voxelflow convert SERIES OUT.nii.gz`
  voxelflow-dimse : `voxelflow pull dimse://ORTHANC@127.0.0.1:PORT` (C-FIND + C-GET, by default on 4 associations
                    sharing the series) then `voxelflow convert`
  voxelflow-dimse-1 : the same with `--associations 1` (one series-level C-GET, as getscu does)
  voxelflow-move : the same with `--move-ae VFMOVE --move-port 11113` (C-FIND + C-MOVE) then `voxelflow convert`
  dicomweb  : dicomweb-client search_for_series + retrieve_series, pydicom writes the files, `dcm2niix -z y`
  dimse     : `findscu` (C-FIND) + `getscu` (C-GET) then `dcm2niix -z y` — the usual scripted path
  move      : `findscu` (C-FIND) + `movescu` (C-MOVE to itself as VFMOVE on port 11113) then `dcm2niix -z y`

Each path runs as whole processes (interpreter and program start included), best and median of N runs;
nibabel checks that every NIfTI holds the same voxels on the same grid. Runs inside Orthanc's network
namespace (Benchmarks/pacs.sh starts it). Usage: pacs.py VOXELFLOW URL DICOM_PORT PASSWORD_FILE WORKDIR [--repeat N]
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import nibabel as nib
import numpy as np

PEER_DICOMWEB = r'''
import os, subprocess, sys
import requests
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_auth
from requests.auth import HTTPBasicAuth
url, user, password, out = sys.argv[1:5]
client = DICOMwebClient(url=url, session=create_session_from_auth(HTTPBasicAuth(user, password)))
for s in client.search_for_series(search_filters={"Modality": "CT"}):
    study, series = s["0020000D"]["Value"][0], s["0020000E"]["Value"][0]
    folder = os.path.join(out, series)
    os.makedirs(folder)
    for n, ds in enumerate(client.retrieve_series(study, series)):
        ds.save_as(os.path.join(folder, "%05d.dcm" % (n + 1)))
    subprocess.run(["dcm2niix", "-z", "y", "-f", "ct", "-o", folder, folder], check=True, capture_output=True)
'''


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def voxelflow_path(vf, url, password_file, out):
    run([vf, "pull", url + "/dicom-web", "-o", out, "--modality", "CT", "--user", "voxelflow", "--password-file", password_file, "-q"])
    series = [json.loads(l) for l in open(os.path.join(out, "pull.jsonl"))]
    for s in series:
        run([vf, "convert", os.path.join(out, s["folder"]), os.path.join(out, s["series"] + ".nii.gz")])
    return sorted(glob.glob(os.path.join(out, "*.nii.gz")))


def voxelflow_dimse_path(vf, port, out, move=False, associations=None):
    extra = ["--move-ae", "VFMOVE", "--move-port", "11113"] if move else []
    if associations is not None:
        extra += ["--associations", str(associations)]
    run([vf, "pull", "dimse://ORTHANC@127.0.0.1:%s" % port, "--calling-ae", "VOXELFLOW", "-o", out, "--modality", "CT", "-q"] + extra)
    series = [json.loads(l) for l in open(os.path.join(out, "pull.jsonl"))]
    for s in series:
        run([vf, "convert", os.path.join(out, s["folder"]), os.path.join(out, s["series"] + ".nii.gz")])
    return sorted(glob.glob(os.path.join(out, "*.nii.gz")))


def voxelflow_dimse_one_path(vf, port, out):
    return voxelflow_dimse_path(vf, port, out, associations=1)


def voxelflow_move_path(vf, port, out):
    return voxelflow_dimse_path(vf, port, out, move=True)


def dicomweb_path(url, password, out):
    os.makedirs(out)
    run([sys.executable, "-c", PEER_DICOMWEB, url + "/dicom-web", "voxelflow", password, out])
    return sorted(glob.glob(os.path.join(out, "*", "*.nii.gz")))


def dimse_path(port, out, move=False):
    os.makedirs(out)
    found = run(["findscu", "-S", "-aet", "VOXELFLOW", "-aec", "ORTHANC", "-k", "QueryRetrieveLevel=SERIES", "-k", "Modality=CT",
                 "-k", "SeriesInstanceUID", "-k", "StudyInstanceUID", "127.0.0.1", str(port)])
    uids = []
    for line in (found.stdout + found.stderr).splitlines():
        if "(0020,000e)" in line.lower() and "[" in line:
            uids.append(line.split("[")[1].split("]")[0].strip().strip("\x00"))
    for uid in uids:
        folder = os.path.join(out, uid)
        os.makedirs(folder)
        keys = ["-k", "QueryRetrieveLevel=SERIES", "-k", "SeriesInstanceUID=" + uid]
        if move:
            run(["movescu", "-S", "-aet", "VFMOVE", "-aem", "VFMOVE", "-aec", "ORTHANC", "--port", "11113"] + keys + ["-od", folder, "127.0.0.1", str(port)])
        else:
            run(["getscu", "-S", "-aet", "VOXELFLOW", "-aec", "ORTHANC"] + keys + ["-od", folder, "127.0.0.1", str(port)])
        run(["dcm2niix", "-z", "y", "-f", "ct", "-o", folder, folder])
    return sorted(glob.glob(os.path.join(out, "*", "*.nii.gz")))


def move_path(port, out):
    return dimse_path(port, out, move=True)


def timed(fn, *args):
    t0 = time.perf_counter()
    files = fn(*args)
    return time.perf_counter() - t0, files


def voxels(path):
    img = nib.load(path)
    data = np.asanyarray(img.dataobj).astype(np.float32)
    return img, data


def main():
    vf, url, port, password_file, work = sys.argv[1:6]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    password = open(password_file).read().split("\n")[0]
    times = {"voxelflow": [], "voxelflow-dimse": [], "voxelflow-dimse-1": [], "voxelflow-move": [], "dicomweb": [], "dimse": [], "move": []}
    outputs = {}
    for r in range(repeat):
        for name, fn, args in [("voxelflow", voxelflow_path, (vf, url, password_file)), ("voxelflow-dimse", voxelflow_dimse_path, (vf, port)),
                               ("voxelflow-dimse-1", voxelflow_dimse_one_path, (vf, port)),
                               ("voxelflow-move", voxelflow_move_path, (vf, port)),
                               ("dicomweb", dicomweb_path, (url, password)), ("dimse", dimse_path, (port,)), ("move", move_path, (port,))]:
            out = os.path.join(work, f"{name}-{r}")
            shutil.rmtree(out, ignore_errors=True)
            seconds, files = timed(fn, *args, out)
            if len(files) != 1:
                sys.exit(f"{name}: expected one NIfTI, got {files}")
            times[name].append(seconds)
            outputs[name] = files[0]
    ref_img, ref = voxels(outputs["voxelflow"])
    checks = {}
    for name in ("voxelflow-dimse", "voxelflow-dimse-1", "voxelflow-move", "dicomweb", "dimse", "move"):
        img, data = voxels(outputs[name])
        # dcm2niix may flip rows to its own orientation; compare in world space via the affines' axis order.
        same_grid = np.allclose(img.affine, ref_img.affine, atol=1e-3)
        if not same_grid:
            data = np.asanyarray(nib.as_closest_canonical(img).dataobj).astype(np.float32)
            ref_c = np.asanyarray(nib.as_closest_canonical(ref_img).dataobj).astype(np.float32)
            checks[name] = bool(data.shape == ref_c.shape and np.array_equal(data, ref_c))
        else:
            checks[name] = bool(np.array_equal(data, ref))
    result = {
        "shape": list(ref.shape),
        "seconds": {k: {"best": min(v), "median": statistics.median(v)} for k, v in times.items()},
        "ratio_best": {k: min(times[k]) / min(times["voxelflow"]) for k in ("dicomweb", "dimse")},
        "ratio_median": {k: statistics.median(times[k]) / statistics.median(times["voxelflow"]) for k in ("dicomweb", "dimse")},
        "dimse_ratio_best": min(times["dimse"]) / min(times["voxelflow-dimse"]),
        "dimse_ratio_median": statistics.median(times["dimse"]) / statistics.median(times["voxelflow-dimse"]),
        "dimse_one_association_ratio_best": min(times["dimse"]) / min(times["voxelflow-dimse-1"]),
        "move_ratio_best": min(times["move"]) / min(times["voxelflow-move"]),
        "move_ratio_median": statistics.median(times["move"]) / statistics.median(times["voxelflow-move"]),
        "same_voxels_as_voxelflow": checks,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
