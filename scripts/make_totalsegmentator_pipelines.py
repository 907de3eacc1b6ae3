"""Writes the TotalSegmentator pipelines and label table from TotalSegmentator's own class maps.

Usage: python3 scripts/make_totalsegmentator_pipelines.py TOTALSEGMENTATOR_SOURCE_DIR
(the unpacked totalsegmentator wheel or sdist, version 2.18.0: `pip download --no-deps totalsegmentator`).
Reads totalsegmentator/map_to_binary.py (class_map["total"], class_map_5_parts; Apache-2.0) and writes
pipelines/labels/totalsegmentator-total.json, pipelines/totalsegmentator/total.json and total-fast.json.
"""
import importlib.util
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("m2b", os.path.join(sys.argv[1], "totalsegmentator", "map_to_binary.py"))
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
total = m.class_map["total"]
number = {name: value for value, name in total.items()}
parts = [(291, "Dataset291_TotalSegmentator_part1_organs_1559subj", "class_map_part_organs"),
         (292, "Dataset292_TotalSegmentator_part2_vertebrae_1532subj", "class_map_part_vertebrae"),
         (293, "Dataset293_TotalSegmentator_part3_cardiac_1559subj", "class_map_part_cardiac"),
         (294, "Dataset294_TotalSegmentator_part4_muscles_1559subj", "class_map_part_muscles"),
         (295, "Dataset295_TotalSegmentator_part5_ribs_1559subj", "class_map_part_ribs")]

table = {"labels": [{"value": v, "name": n} for v, n in sorted(total.items())]}
with open(os.path.join(root, "pipelines/labels/totalsegmentator-total.json"), "w") as f:
    json.dump(table, f, indent=1)
    f.write("\n")

weights = "TotalSegmentator weights are not part of VoxelFlow: download them once with TotalSegmentator (`totalseg_download_weights -t total`, or from its GitHub releases, licence Apache-2.0) and put its Dataset29x folders into models/ beside this pipeline file (docs/totalsegmentator.md). Cases: the archive's *.nii.gz CT files."
inputs = {"ct": {"type": "nifti", "pattern": "*.nii.gz"}}
common_pre = [
    {"id": "ras", "type": "reorient", "source": "ct", "orientation": "RAS"},
]
common_post = [
    {"id": "labels", "type": "resample-to", "source": "combined", "reference": "ct"},
    {"id": "write", "type": "write-nifti", "source": "labels", "path": "{case}_total.nii.gz"},
    {"id": "statistics", "type": "label-statistics", "labels": "labels", "image": "ct", "percentiles": [],
     "labelTable": "../labels/totalsegmentator-total.json"},
    {"id": "report", "type": "write-report"},
]


def model_stage(stage_id, folder, trainer, source):
    return {"id": stage_id, "type": "nnunet", "source": source, "model": f"models/{folder}/{trainer}__nnUNetPlans__3d_fullres",
            "folds": ["0"], "mirror": False, "tileStep": 0.8}


full = {
    "voxelflow": 1, "name": "totalsegmentator-total",
    "description": "TotalSegmentator's CT \"total\" task (v2, 117 structures): reorient to RAS, resample to 1.5 mm (cubic), run its five nnU-Net part models (organs, vertebrae, cardiac, muscles, ribs; step 0.8, no mirroring, fold 0, as TotalSegmentator runs them), combine the parts as TotalSegmentator does (later parts win), put the labels back on the scan's grid and report volume and mean HU per structure. " + weights,
    "inputs": inputs,
    "stages": common_pre + [{"id": "resampled", "type": "resample", "source": "ras", "spacing": [1.5, 1.5, 1.5], "interpolation": "bspline"}]
    + [model_stage(f"part{tid - 290}", folder, "nnUNetTrainerNoMirroring", "resampled") for tid, folder, _ in parts]
    + [{"id": "combined", "type": "combine-labels", "sources": [f"part{tid - 290}" for tid, _, _ in parts],
        "mappings": [{str(k): number[v] for k, v in sorted(getattr(m, "class_map_5_parts")[pname].items())} for _, _, pname in parts],
        "labelTable": "../labels/totalsegmentator-total.json"}]
    + common_post,
}
fast = {
    "voxelflow": 1, "name": "totalsegmentator-total-fast",
    "description": "TotalSegmentator's CT \"total\" task, --fast (one 3 mm nnU-Net model, 117 structures): reorient to RAS, resample to 3 mm (cubic), run Dataset297 (step 0.8, no mirroring, fold 0), put the labels back on the scan's grid and report volume and mean HU per structure. " + weights,
    "inputs": inputs,
    "stages": common_pre + [{"id": "resampled", "type": "resample", "source": "ras", "spacing": [3, 3, 3], "interpolation": "bspline"},
                            model_stage("combined", "Dataset297_TotalSegmentator_total_3mm_1559subj", "nnUNetTrainer_4000epochs_NoMirroring", "resampled")]
    + common_post,
}
for name, pipeline in (("total.json", full), ("total-fast.json", fast)):
    with open(os.path.join(root, "pipelines/totalsegmentator", name), "w") as f:
        json.dump(pipeline, f, indent=2)
        f.write("\n")
print("wrote", len(total), "labels and two pipelines")
