#!/usr/bin/env bash
# Stops what scripts/slurm/up.sh started, by its PID files only.
base=${VF_SLURM_DIR:-/tmp/voxelflow-slurm}
for f in "$base/run/slurmd.pid" "$base/run/slurmctld.pid" "$base/munge/run/munged.pid"; do
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
done
