#!/usr/bin/env bash
# Creates .venv-oracles with the independent reference tools the tests and benchmarks compare against.
# Usage: scripts/setup-oracles.sh [--full]   (--full adds the heavy benchmark-only oracles)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-oracles"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
want=(numpy nibabel)
[ "${1:-}" = "--full" ] && want+=(SimpleITK pydicom)
missing=()
for p in "${want[@]}"; do
  "$venv/bin/python" -c "import importlib,sys; importlib.import_module(sys.argv[1])" "$(echo "$p" | sed 's/SimpleITK/SimpleITK/')" 2>/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "voxelflow: installing oracles into .venv-oracles: ${missing[*]}" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2
fi
