#!/usr/bin/env python3
"""pydicom's palette colour mapping of a PALETTE COLOR file, as VoxelFlow stores it (8-bit RGB).

Prints the SHA-256 of pydicom.pixels.apply_color_lut(pixel_array, ds), C order (frames, rows, columns, RGB);
16-bit tables are reduced to their high byte unless every value fits in 8 bits (VoxelFlow's rule).
Usage: palette_reference.py FILE
"""
import hashlib
import sys

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut

ds = pydicom.dcmread(sys.argv[1])
rgb = apply_color_lut(ds.pixel_array, ds)
if rgb.dtype != np.uint8:
    rgb = rgb.astype(np.uint8) if rgb.max() <= 255 else (rgb >> 8).astype(np.uint8)
print(hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest())
