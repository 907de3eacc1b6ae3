#!/usr/bin/env python3
"""Checks every file of a BIDS dataset folder with the bids-validator package's path rules (independently of
VoxelFlow) and prints {"valid": [...], "invalid": [...]} with paths relative to the folder, "/"-prefixed as
the validator expects them.

Usage: bids_check.py DATASET_DIR
"""
import json
import os
import sys

from bids_validator import BIDSValidator


def main():
    root = sys.argv[1]
    validator = BIDSValidator()
    valid, invalid = [], []
    for folder, _, files in os.walk(root):
        for name in files:
            path = "/" + os.path.relpath(os.path.join(folder, name), root)
            (valid if validator.is_bids(path) else invalid).append(path)
    print(json.dumps({"valid": sorted(valid), "invalid": sorted(invalid)}))


if __name__ == "__main__":
    main()
