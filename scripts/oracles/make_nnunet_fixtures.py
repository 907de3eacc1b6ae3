"""Builds small nnU-Net v2 model folders with nnU-Net's own planner and trainer, gives them random weights
saved by nnU-Net's trainer (checkpoint_final.pth), and records nnUNetPredictor's CPU predictions as oracles.

Usage: .venv-torch/bin/python scripts/oracles/make_nnunet_fixtures.py SHARED_DATA OUT_DIR

The dataset is made from the corpus head CT (nifti/ct_head: HU volume, head and bone masks), cut into four
training cases at 3.8 x 3.8 x 3 mm; labels 0 background, 1 soft tissue, 2 bone. Plans come from
nnUNetv2_plan_experiment (default planner and the ResEnc M planner); only features_per_stage is scaled down
(to 4, 8, 16, ... at most 32) so that the checkpoints stay a few hundred kilobytes. Test inputs:
  same   - the plan's spacing (no resampling),
  resamp - another spacing (third-order resampling both ways),
  aniso  - 12 mm slices (nnU-Net's separate-z resampling).
Oracles per model/configuration/folds/mirroring: CASE.nii.gz labels and CASE_probs.nii.gz (float32
probabilities, classes on the 4th axis) written from nnUNetPredictor's outputs.
"""
import json
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import torch

def compact(stem, reference, keep_probabilities):
    """Replaces nnU-Net's CASE.npz / CASE.pkl by what the tests need, small: CASE_clear.nii.gz (1 where the
    top-2 probability margin is >= 1e-3) and, when asked, CASE_probs.nii.gz (uint16 = probability x 65535,
    scl_slope 1/65535, classes on the 4th axis)."""
    probs = np.load(stem + ".npz")["probabilities"]  # c, z, y, x
    ref = nib.load(reference)
    ordered = np.sort(probs, axis=0)
    clear = (ordered[-1] - ordered[-2] >= 1e-3).astype(np.uint8)
    nib.save(nib.Nifti1Image(np.transpose(clear, (2, 1, 0)), ref.affine), stem + "_clear.nii.gz")
    if keep_probabilities:
        img = nib.Nifti1Image(np.round(np.transpose(probs, (3, 2, 1, 0)) * 65535).astype(np.uint16), ref.affine)
        img.header.set_slope_inter(1 / 65535, 0)
        nib.save(img, stem + "_probs.nii.gz")
    os.remove(stem + ".npz")
    os.remove(stem + ".pkl")


def main():
    shared, out = sys.argv[1], os.path.abspath(sys.argv[2])
    cascade_only = sys.argv[3:] == ["--cascade-only"]
    work = os.path.join(out, "_work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.environ["nnUNet_raw"] = os.path.join(work, "raw")
    os.environ["nnUNet_preprocessed"] = os.path.join(work, "preprocessed")
    os.environ["nnUNet_results"] = os.path.join(work, "results")
    os.environ["nnUNet_n_proc_DA"] = "1"
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    ct = nib.load(os.path.join(shared, "nifti/ct_head/ct_head_hu.nii.gz"))
    hu = np.asarray(ct.dataobj, dtype=np.float32)
    head = np.asarray(nib.load(os.path.join(shared, "nifti/ct_head/ct_head_mask_head.nii.gz")).dataobj) > 0
    bone = np.asarray(nib.load(os.path.join(shared, "nifti/ct_head/ct_head_mask_bone.nii.gz")).dataobj) > 0
    labels = np.where(bone, 2, np.where(head, 1, 0)).astype(np.uint8)


    def save(array, spacing, path, dtype):
        affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
        img = nib.Nifti1Image(array.astype(dtype), affine)
        img.header.set_qform(affine, 1)
        img.header.set_sform(affine, 1)
        nib.save(img, path)


    def cut(x0, y0, z0, step_xy, step_z, nx, ny, nz):
        sl = (slice(x0, x0 + step_xy * nx, step_xy), slice(y0, y0 + step_xy * ny, step_xy), slice(z0, z0 + step_z * nz, step_z))
        return hu[sl], labels[sl]


    raw = os.path.join(work, "raw", "Dataset901_HeadCT")
    os.makedirs(os.path.join(raw, "imagesTr"))
    os.makedirs(os.path.join(raw, "labelsTr"))
    base = ct.header.get_zooms()
    for i, (x0, y0, z0) in enumerate([(0, 0, 0), (3, 1, 1), (1, 2, 12), (2, 3, 20)]):
        img, lab = cut(x0, y0, z0, 4, 2, 60, 60, 40)
        spacing = (base[0] * 4, base[1] * 4, base[2] * 2)
        save(img, spacing, os.path.join(raw, "imagesTr", f"head_{i:03d}_0000.nii.gz"), np.float32)
        save(lab, spacing, os.path.join(raw, "labelsTr", f"head_{i:03d}.nii.gz"), np.uint8)
    json.dump({"channel_names": {"0": "CT"}, "labels": {"background": 0, "soft_tissue": 1, "bone": 2},
               "numTraining": 4, "file_ending": ".nii.gz"}, open(os.path.join(raw, "dataset.json"), "w"), indent=2)

    inputs = os.path.join(out, "inputs")
    if not cascade_only:
        shutil.rmtree(inputs, ignore_errors=True)
        os.makedirs(inputs)
    img, _ = cut(5, 6, 30, 4, 2, 56, 58, 36)
    if not cascade_only:
        save(img, (base[0] * 4, base[1] * 4, base[2] * 2), os.path.join(inputs, "same_0000.nii.gz"), np.float32)
    img, _ = cut(0, 0, 4, 3, 3, 80, 78, 30)
    if not cascade_only:
        save(img, (base[0] * 3, base[1] * 3, base[2] * 3), os.path.join(inputs, "resamp_0000.nii.gz"), np.float32)
    img, _ = cut(2, 0, 0, 4, 8, 60, 62, 13)
    if not cascade_only:
        save(img, (base[0] * 4, base[1] * 4, base[2] * 8), os.path.join(inputs, "aniso_0000.nii.gz"), np.float32)


    def run(*args):
        tool = os.path.join(os.path.dirname(sys.executable), args[0])
        subprocess.run([tool, *args[1:]], check=True, stdout=subprocess.DEVNULL)


    run("nnUNetv2_extract_fingerprint", "-d", "901", "-np", "1")
    run("nnUNetv2_plan_experiment", "-d", "901")
    if not cascade_only:
        run("nnUNetv2_plan_experiment", "-d", "901", "-pl", "nnUNetPlannerResEncM")

    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.run.run_training import get_trainer_from_args


    def shrink(plans_path):
        plans = json.load(open(plans_path))
        for name, config in plans["configurations"].items():
            kw = config.get("architecture", {}).get("arch_kwargs")
            if kw:
                kw["features_per_stage"] = [min(4 * 2 ** s, 32) for s in range(kw["n_stages"])]
        json.dump(plans, open(plans_path, "w"), indent=2)


    def randomize(network):
        with torch.no_grad():
            for name, p in network.named_parameters():
                if "norm" in name and name.endswith("weight"):
                    p.copy_(1 + 0.2 * torch.randn_like(p))
                elif name.endswith("bias"):
                    p.copy_(0.1 * torch.randn_like(p))


    models = os.path.join(out, "models")
    pre = os.path.join(work, "preprocessed", "Dataset901_HeadCT")

    def train(plans_name, config, folds):
        """Random-weight checkpoints saved by nnU-Net's trainer; returns the model folder copied into models/."""
        folder = None
        for fold in folds:
            trainer = get_trainer_from_args("901", config, fold, "nnUNetTrainer", plans_name, device=torch.device("cpu"))
            trainer.initialize()
            randomize(trainer.network)
            folder = trainer.output_folder_base
            os.makedirs(trainer.output_folder, exist_ok=True)
            trainer.save_checkpoint(os.path.join(trainer.output_folder, "checkpoint_final.pth"))
        dest = os.path.join(models, f"{plans_name}__{config}")
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("*.txt", "*.png", "*.json.bak", "checkpoint_best.pth", "debug.json", "progress.png"))
        shutil.copy(os.path.join(pre, plans_name + ".json"), os.path.join(dest, "plans.json"))
        shutil.copy(os.path.join(pre, "dataset.json"), os.path.join(dest, "dataset.json"))
        return dest

    def predict(dest, folds, mirror, previous=None):
        """nnUNetPredictor on the inputs; returns the manifest entry."""
        predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=mirror, perform_everything_on_device=False,
                                    device=torch.device("cpu"), verbose=False, verbose_preprocessing=False, allow_tqdm=False)
        predictor.initialize_from_trained_model_folder(dest, use_folds=folds, checkpoint_name="checkpoint_final.pth")
        name = os.path.basename(dest)
        tag = f"{name}__f{''.join(map(str, folds))}__{'mirror' if mirror else 'nomirror'}"
        target = os.path.join(out, "expected", tag)
        shutil.rmtree(target, ignore_errors=True)
        predictor.predict_from_files(inputs, target, save_probabilities=True, overwrite=True, num_processes_preprocessing=1,
                                     num_processes_segmentation_export=1,
                                     folder_with_segs_from_prev_stage=os.path.join(out, "expected", previous) if previous else None)
        for case in ("same", "resamp", "aniso"):
            compact(os.path.join(target, case), os.path.join(inputs, case + "_0000.nii.gz"), keep_probabilities=len(folds) == 2 and mirror or previous is not None)
        for extra in ("dataset.json", "plans.json", "predict_from_raw_data_args.json"):
            if os.path.exists(os.path.join(target, extra)):
                os.remove(os.path.join(target, extra))
        entry = {"model": name, "folds": [str(f) for f in folds], "mirror": mirror, "expected": tag}
        if previous:
            entry["previous"] = previous
        return entry

    manifest = []
    if cascade_only:
        manifest = [e for e in json.load(open(os.path.join(out, "manifest.json"))) if "cascade" not in e["model"] and "lowres" not in e["model"]]
    else:
        shutil.rmtree(models, ignore_errors=True)
        for plans_name, configs in [("nnUNetPlans", ["3d_fullres", "2d"]), ("nnUNetResEncUNetMPlans", ["3d_fullres"])]:
            shrink(os.path.join(pre, plans_name + ".json"))
            run("nnUNetv2_preprocess", "-d", "901", "-plans_name", plans_name, "-c", *configs, "-np", *["1"] * len(configs))
            for config in configs:
                dest = train(plans_name, config, (0, 1))
                for folds in [(0,), (0, 1)]:
                    for mirror in [True, False]:
                        manifest.append(predict(dest, folds, mirror))

    # A cascade: the images this small get no 3d_lowres from the planner, so one is added to the default plans by
    # hand (the 3d_fullres configuration at twice the spacing, its own data), with 3d_cascade_fullres after it.
    plans_path = os.path.join(pre, "nnUNetPlans.json")
    shrink(plans_path)
    plans = json.load(open(plans_path))
    fullres = plans["configurations"]["3d_fullres"]
    lowres = json.loads(json.dumps(fullres))
    lowres["data_identifier"] = "nnUNetPlans_3d_lowres"
    lowres["spacing"] = [2 * v for v in fullres["spacing"]]
    lowres["next_stage"] = "3d_cascade_fullres"
    plans["configurations"]["3d_lowres"] = lowres
    plans["configurations"]["3d_cascade_fullres"] = {"inherits_from": "3d_fullres", "previous_stage": "3d_lowres"}
    json.dump(plans, open(plans_path, "w"), indent=2)
    run("nnUNetv2_preprocess", "-d", "901", "-plans_name", "nnUNetPlans", "-c", "3d_fullres", "3d_lowres", "-np", "1", "1")
    lowres_dest = train("nnUNetPlans", "3d_lowres", (0,))
    cascade_dest = train("nnUNetPlans", "3d_cascade_fullres", (0,))
    lowres_entry = predict(lowres_dest, (0,), True)
    manifest.append(lowres_entry)
    manifest.append(predict(cascade_dest, (0,), True, previous=lowres_entry["expected"]))
    json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=2)
    shutil.rmtree(work)
    print("wrote", out)


if __name__ == "__main__":
    main()
