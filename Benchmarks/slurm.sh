#!/usr/bin/env bash
# Slurm scheduling overhead and shard speed-up, on the one-node cluster of scripts/slurm/up.sh.
#   1. 1,000 tiny cases (8³ NIfTI, a threshold, statistics and a report each): `voxelflow run` on this
#      machine (--jobs 2) vs `voxelflow submit --array 2` (two shards of 500): the difference per case is
#      what scheduling and sharding cost. Then the first 100 of them with one case per array task
#      (`--array 100`) vs a local run of the same 100: the cost of a task per case.
#   2. A real workload (16 T1 heads, resample + threshold + largest component + statistics, ~1 s a case):
#      `submit --array 1` vs `--array 2` (one CPU per task): the speed-up of 2 tasks over 1.
# Wall time of an array: from `voxelflow submit` to the job leaving squeue (polled every 0.2 s).
# Usage: Benchmarks/slurm.sh [--tiny N] [--per-task P] [--repeat R]   (needs root; installs slurm-wlm, munge)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tiny=1000; per_task=100; repeat=1
while [ $# -gt 0 ]; do
  case "$1" in --tiny) tiny=$2; shift 2 ;; --per-task) per_task=$2; shift 2 ;; --repeat) repeat=$2; shift 2 ;; *) echo "unknown option $1" >&2; exit 64 ;; esac
done
vf="$root/.build/release/voxelflow"
[ -x "$vf" ] || (cd "$root" && swift build -c release --product voxelflow >/dev/null)
work=$(mktemp -d /tmp/voxelflow-slurm-bench.XXXXXX); chmod 755 "$work"
export VF_SLURM_DIR="$work/slurm"
trap 'bash "$root/scripts/slurm/down.sh"; rm -rf "$work"' EXIT
eval "$(bash "$root/scripts/slurm/up.sh")"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
wait_job() { while [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; do sleep 0.2; done; }
submit_and_wait() {  # pipeline archive out [submit options] -> prints seconds
  local t0 job; t0=$(now)
  "$vf" submit "$1" -i "$2" -o "$3" --slurm "${@:4}" >/dev/null
  job=$(tail -n 1 "$3/slurm/submissions.jsonl" | sed 's/.*"job":"\([^"]*\)".*/\1/')
  wait_job "$job"
  elapsed "$t0" "$(now)"
}
check_done() {  # out count
  local done; done=$("$vf" status "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['cases']['done'])")
  [ "$done" = "$2" ] || { echo "only $done of $2 cases done in $1" >&2; exit 1; }
}

# --- 1. tiny cases ---------------------------------------------------------------------------------
mkdir -p "$work/tiny"
python3 - "$work/tiny/case0000.nii" <<'PY'
import struct, sys
h = bytearray(348)
struct.pack_into("<i", h, 0, 348)
struct.pack_into("<8h", h, 40, 3, 8, 8, 8, 1, 1, 1, 1)
struct.pack_into("<hh", h, 70, 4, 16)                         # int16
struct.pack_into("<8f", h, 76, 1, 1, 1, 1, 1, 1, 1, 1)
struct.pack_into("<f", h, 108, 352.0)                          # vox_offset
struct.pack_into("<hh", h, 252, 0, 1)                          # qform 0, sform 1 (scanner)
struct.pack_into("<12f", h, 280, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0)
h[344:348] = b"n+1\0"
data = struct.pack("<512h", *[(i * 37) % 200 for i in range(512)])
open(sys.argv[1], "wb").write(bytes(h) + b"\0\0\0\0" + data)
PY
for i in $(seq 1 $((tiny - 1))); do cp "$work/tiny/case0000.nii" "$work/tiny/$(printf 'case%04d' "$i").nii"; done
cat > "$work/tiny.json" <<'JSON'
{ "voxelflow": 1, "name": "tiny", "inputs": { "img": { "type": "nifti", "pattern": "case*.nii" } },
  "stages": [ { "id": "mask", "type": "threshold", "source": "img", "lower": 100 },
              { "id": "stats", "type": "label-statistics", "labels": "mask", "image": "img" },
              { "id": "report", "type": "write-report" } ] }
JSON
mkdir -p "$work/few"
for i in $(seq 0 $((per_task - 1))); do ln "$work/tiny/$(printf 'case%04d' "$i").nii" "$work/few/"; done
echo "tiny cases: $tiny (and $per_task with one case per task)"
for r in $(seq 1 "$repeat"); do
  t0=$(now); "$vf" run "$work/tiny.json" -i "$work/tiny" -o "$work/tiny-local-$r" -q --jobs 2; local_s=$(elapsed "$t0" "$(now)")
  check_done "$work/tiny-local-$r" "$tiny"
  two_s=$(submit_and_wait "$work/tiny.json" "$work/tiny" "$work/tiny-2-$r" --array 2)
  check_done "$work/tiny-2-$r" "$tiny"
  diff -r "$work/tiny-local-$r/cases" "$work/tiny-2-$r/cases" >/dev/null || { echo "sharded results differ" >&2; exit 1; }
  t0=$(now); "$vf" run "$work/tiny.json" -i "$work/few" -o "$work/few-local-$r" -q --jobs 2; few_local_s=$(elapsed "$t0" "$(now)")
  each_s=$(submit_and_wait "$work/tiny.json" "$work/few" "$work/few-each-$r" --array "$per_task")
  check_done "$work/few-each-$r" "$per_task"
  awk -v n="$tiny" -v p="$per_task" -v l="$local_s" -v t="$two_s" -v fl="$few_local_s" -v e="$each_s" 'BEGIN {
    printf "  %d cases: local run --jobs 2 %.2f s (%.1f ms/case); submit --array 2 %.2f s (%+.1f ms/case over local)\n", n, l, 1000 * l / n, t, 1000 * (t - l) / n
    printf "  %d cases: local run --jobs 2 %.2f s; submit --array %d (1 case/task) %.2f s (%+.0f ms/case over local)\n", p, fl, p, e, 1000 * (e - fl) / p }'
done

# --- 2. speed-up of 2 tasks over 1 ---------------------------------------------------------------------
mkdir -p "$work/heads"
heads=("$root"/sample-data/nifti/t1/*.nii.gz)
for i in $(seq -w 1 16); do cp "${heads[$((10#$i % 3))]}" "$work/heads/case$i.nii.gz"; done
cat > "$work/heads.json" <<'JSON'
{ "voxelflow": 1, "name": "heads", "seed": 0, "inputs": { "t1": { "type": "nifti", "pattern": "case*.nii.gz" } },
  "stages": [ { "id": "ras", "type": "reorient", "source": "t1", "orientation": "RAS" },
              { "id": "iso", "type": "resample", "source": "ras", "spacing": [1, 1, 1] },
              { "id": "head", "type": "threshold", "source": "iso", "lower": 20 },
              { "id": "largest", "type": "keep-largest-component", "source": "head" },
              { "id": "write", "type": "write-nifti", "source": "largest", "path": "head.nii.gz" },
              { "id": "stats", "type": "label-statistics", "labels": "largest", "image": "iso" },
              { "id": "report", "type": "write-report" } ] }
JSON
echo "16 T1 heads"
for r in $(seq 1 "$repeat"); do
  one_s=$(submit_and_wait "$work/heads.json" "$work/heads" "$work/heads-1-$r" --array 1)
  check_done "$work/heads-1-$r" 16
  two_s=$(submit_and_wait "$work/heads.json" "$work/heads" "$work/heads-2-$r" --array 2)
  check_done "$work/heads-2-$r" 16
  diff -r "$work/heads-1-$r/cases" "$work/heads-2-$r/cases" >/dev/null || { echo "1 and 2 tasks differ" >&2; exit 1; }
  awk -v a="$one_s" -v b="$two_s" 'BEGIN { printf "  submit --array 1: %.2f s   --array 2: %.2f s   speed-up %.2f×\n", a, b, a / b }'
done
