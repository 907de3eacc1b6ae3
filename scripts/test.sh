#!/usr/bin/env bash
# Runs VoxelFlow's whole test suite, the way CI does.
#   1. installs the Debian packages the build needs (apt-get as root, else prints the command);
#   2. sets up the nibabel oracle venv (.venv-oracles); if PyPI is unreachable the oracle tests skip
#      with a message and everything else still runs;
#   3. builds and runs every test in release mode (numeric code is slow unoptimised);
#   4. runs the parser tests again under AddressSanitizer and the concurrent code's tests under
#      ThreadSanitizer (scripts/sanitize.sh: its header says what is left out and why), then fuzzes every
#      parser for 20 seconds (scripts/fuzz.sh --ci: a new crash, hang or out-of-memory input fails the run);
#   5. runs the end-to-end scripts that need real services (scripts/slurm_e2e.sh, scripts/pacs_e2e.sh,
#      scripts/listen_e2e.sh).
# Tests that need the shared corpus (../shared/data, or $VOXELFLOW_SHARED_DATA) skip cleanly without it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --test
if ! bash scripts/setup-oracles.sh; then
  echo "voxelflow: warning: oracle venv could not be set up; oracle tests will be skipped" >&2
fi
swift test -c release -Xswiftc -enable-testing "$@"
# End-to-end checks against real services, after the whole suite (not with --filter and the like): a
# one-node Slurm cluster runs `voxelflow submit` arrays, and an Orthanc PACS serves `voxelflow pull`,
# `push`, the push-dicomweb stage and `voxelflow listen` (each skips with a message where its packages cannot be installed
# or this is not root).
if [ $# -eq 0 ]; then
  bash scripts/sanitize.sh
  bash scripts/sanitize.sh --thread
  bash scripts/fuzz.sh --ci --seconds 20
  bash scripts/slurm_e2e.sh "$root/.build/release/voxelflow"
  bash scripts/pacs_e2e.sh "$root/.build/release/voxelflow"
  bash scripts/listen_e2e.sh "$root/.build/release/voxelflow"
fi
