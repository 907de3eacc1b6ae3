#!/usr/bin/env bash
# Stops the Orthanc of scripts/orthanc/up.sh by its PID file; its database stays (WIPE=1 removes it).
base=${VF_ORTHANC_DIR:-/tmp/voxelflow-orthanc}
f=$base/orthanc.pid
if [ -s "$f" ]; then
  pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
fi
[ "${WIPE:-0}" = 1 ] && rm -rf "$base/db"
exit 0
