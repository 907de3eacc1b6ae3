#!/usr/bin/env bash
# Peak extra memory of each transform on the 512x512x324 CT, one process per transform
# (voxelflow-bench memory). Extra = peak resident size during the transform − resident size before − output.
# Needs Benchmarks/work/ct_512x512x324.nii.gz from Benchmarks/nifti_io.sh. Usage: Benchmarks/transform_memory.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -f Benchmarks/work/ct_512x512x324.nii.gz ] || ./Benchmarks/nifti_io.sh --repeat 1 > /dev/null
swift build -c release --product voxelflow-bench >&2
bench="$(swift build -c release --show-bin-path)/voxelflow-bench"
printf "%-22s %12s %12s %8s\n" transform "output MB" "extra MB" "extra/output"
for t in reorient-RAS reorient-SPR resample-nearest resample-linear resample-bspline resample-antialias crop-or-pad \
         crop-foreground ct-window normalize percentile-normalize gaussian-smooth connected-components keep-largest \
         fill-holes dilate remove-small random-affine elastic; do
  "$bench" memory Benchmarks/work/ct_512x512x324.nii.gz "$t" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%-22s %12.1f %12.1f %8.2f" % (r["transform"], r["output_bytes"] / 1e6, r["extra_bytes"] / 1e6, r["extra_over_output"]))'
done
