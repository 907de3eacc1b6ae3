#!/usr/bin/env bash
# Runs tests under a sanitizer. Called twice by scripts/test.sh after the suite; usable alone:
#   scripts/sanitize.sh [--thread] [--filter REGEX]
#
# AddressSanitizer (default): the tests of the code that reads untrusted bytes: VoxelCore, VoxelIO (NIfTI,
# gzip, DICOM through the DCMTK shim, SEG/RTSTRUCT, de-identification, scan cache, DICOMDIR) and the replay
# of every fuzz seed and finding (all parser targets, through an ASan-built voxelflow-fuzz). The CLI programs
# those tests start are the ASan builds too. Build in .build-asan (about 7 minutes on 2 cores), tests about
# 1.5 minutes.
#
# ThreadSanitizer (--thread): the tests of the code that runs work on several threads: the parallel header
# scan, parallel decoding and gzip (VoxelIO), `Parallel.perform` and the file locks (VoxelCore's support
# suites), and the batch runner with 1 and 2 workers, interrupted and resumed (BatchSafety, Runner). The CLI
# programs those tests start are the TSan builds too. Build in .build-tsan (about 12 minutes on 2 cores),
# tests about 10 minutes.
#
# Left out, with the reason:
#   - ASan: VoxelNN, VoxelTransforms, VoxelMetrics, VoxelPipeline and the CLI suites: numeric code that takes
#     no untrusted bytes directly (its inputs come through the readers above); under ASan they take more than
#     an hour here, beyond what CI affords.
#   - TSan: the numeric suites (VoxelNN, VoxelTransforms, VoxelMetrics) and the other pipeline and CLI
#     suites: their threads all go through `Parallel.perform` over disjoint slices of one buffer, which the
#     suites above exercise; under TSan they take more than an hour here (the whole VoxelPipeline suite did
#     not finish in 30 minutes). ClusterBatch (shards are separate processes) and TrainCommand (the
#     prefetching thread) are run by hand: `scripts/sanitize.sh --thread --filter
#     "ClusterBatchTests|TrainCommandTests"`; training under TSan takes most of 10 minutes. OpenBLAS and
#     DCMTK are not instrumented (TSan sees only VoxelFlow's own memory accesses).
#   - LeakSanitizer (detect_leaks=0): leaks are not what these passes check.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
sanitizer=address
filter="VoxelIOTests|VoxelCoreTests|FuzzRegression"
while [ $# -gt 0 ]; do
  case "$1" in
    --thread) sanitizer=thread; filter="VoxelIOTests|VoxelCoreTests|BatchSafetyTests|RunnerTests"; shift ;;
    --filter) filter="$2"; shift 2 ;;
    *) echo "usage: scripts/sanitize.sh [--thread] [--filter REGEX]" >&2; exit 64 ;;
  esac
done
if [ "$sanitizer" = address ]; then
  build=.build-asan
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
else
  build=.build-tsan
  # A data race fails the run (exit code 66) after the report.
  export TSAN_OPTIONS=halt_on_error=1:exitcode=66
fi
swift build -c release -Xswiftc -enable-testing --build-tests --sanitize="$sanitizer" --build-path "$build" >&2
swift test -c release -Xswiftc -enable-testing --sanitize="$sanitizer" --build-path "$build" --skip-build --filter "$filter"
