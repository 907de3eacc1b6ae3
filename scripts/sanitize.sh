#!/usr/bin/env bash
# Runs the tests of the code that reads untrusted bytes under AddressSanitizer: VoxelCore, VoxelIO (NIfTI,
# gzip, DICOM through the DCMTK shim, SEG/RTSTRUCT, de-identification, scan cache, DICOMDIR) and the replay of
# every fuzz seed and finding (all parser targets, through an ASan-built voxelflow-fuzz). The CLI programs
# those tests start are the ASan builds too. Build in .build-asan (about 7 minutes on 2 cores), tests about
# 1.5 minutes. Called by scripts/test.sh after the suite; usable alone: scripts/sanitize.sh [--filter REGEX].
#
# Left out, with the reason:
#   - VoxelNN, VoxelTransforms, VoxelMetrics, VoxelPipeline and the CLI suites: numeric code that takes no
#     untrusted bytes directly (its inputs come through the readers above); under ASan they take more than an
#     hour here, beyond what CI affords.
#   - ThreadSanitizer: not run yet.
#   - LeakSanitizer (detect_leaks=0): leaks are not what this pass checks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
filter="VoxelIOTests|VoxelCoreTests|FuzzRegression"
if [ "${1:-}" = "--filter" ]; then filter="$2"; fi
swift build -c release -Xswiftc -enable-testing --build-tests --sanitize=address --build-path .build-asan >&2
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 swift test -c release -Xswiftc -enable-testing --sanitize=address \
  --build-path .build-asan --skip-build --filter "$filter"
