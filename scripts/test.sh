#!/usr/bin/env bash
# Runs VoxelFlow's whole test suite, the way CI does.
#   1. installs the Debian packages the build needs (apt-get as root, else prints the command);
#   2. sets up the nibabel oracle venv (.venv-oracles); if PyPI is unreachable the oracle tests skip
#      with a message and everything else still runs;
#   3. builds and runs every test in release mode (numeric code is slow unoptimised).
# Tests that need the shared corpus (../shared/data, or $VOXELFLOW_SHARED_DATA) skip cleanly without it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --test
if ! bash scripts/setup-oracles.sh; then
  echo "voxelflow: warning: oracle venv could not be set up; oracle tests will be skipped" >&2
fi
exec swift test -c release -Xswiftc -enable-testing "$@"
