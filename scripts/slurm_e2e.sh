#!/usr/bin/env bash
# End-to-end check of `voxelflow submit`, `status` and `report` on a real one-node Slurm cluster
# (scripts/slurm/up.sh): a 4-task array over 16 cases; one task killed outright (scancel -s KILL, as a
# node failure) and one cancelled (scancel: SIGTERM, the run stops cleanly) while they run; `status` must
# call them stopped and interrupted with their unfinished cases missing; a second `submit` must run only
# those two shards; then every case must have completed exactly once, and the merged results must equal
# a single-machine `voxelflow run`: the same case folders byte for byte and the same manifest entries
# (timings aside). Skips with a message when Slurm cannot be installed or this is not root.
# Usage: scripts/slurm_e2e.sh [VOXELFLOW_EXECUTABLE]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vf=${1:-$root/.build/release/voxelflow}
[ -x "$vf" ] || { echo "slurm e2e: $vf not built" >&2; exit 1; }
work=$(mktemp -d /tmp/voxelflow-slurm-e2e.XXXXXX)
chmod 755 "$work"  # munged runs as the munge user and must reach its socket folder below
export VF_SLURM_DIR="$work/slurm"
cleanup() { bash "$root/scripts/slurm/down.sh"; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "slurm e2e: FAILED: $*" >&2; echo "--- status"; "$vf" status "$work/out" || true; tail -n 5 "$work"/out/slurm/logs/* 2>/dev/null || true; exit 1; }

set +e
up=$(bash "$root/scripts/slurm/up.sh" 2>"$work/up.err"); rc=$?
set -e
if [ $rc = 3 ]; then echo "slurm e2e: skipped: $(cat "$work/up.err")"; exit 0; fi
[ $rc = 0 ] || { cat "$work/up.err" >&2; fail "the Slurm cluster did not start"; }
eval "$up"
t0=$(date +%s.%N)

# 16 cases: the three committed T1 heads in turn, under 16 names.
mkdir -p "$work/archive"
heads=("$root"/sample-data/nifti/t1/*.nii.gz)
for i in $(seq -w 1 16); do cp "${heads[$((10#$i % 3))]}" "$work/archive/case$i.nii.gz"; done
cat > "$work/pipeline.json" <<'JSON'
{
  "voxelflow": 1,
  "name": "slurm-e2e",
  "description": "T1 heads: reorient, resample to 1 mm, threshold, largest component; the mask and its statistics.",
  "seed": 0,
  "inputs": { "t1": { "type": "nifti", "pattern": "case*.nii.gz" } },
  "stages": [
    { "id": "ras", "type": "reorient", "source": "t1", "orientation": "RAS" },
    { "id": "iso", "type": "resample", "source": "ras", "spacing": [1, 1, 1] },
    { "id": "head", "type": "threshold", "source": "iso", "lower": 20 },
    { "id": "largest", "type": "keep-largest-component", "source": "head" },
    { "id": "write", "type": "write-nifti", "source": "largest", "path": "head.nii.gz" },
    { "id": "stats", "type": "label-statistics", "labels": "largest", "image": "iso" },
    { "id": "report", "type": "write-report" }
  ]
}
JSON
out="$work/out"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

"$vf" submit "$work/pipeline.json" -i "$work/archive" -o "$out" --slurm --array 4 > "$work/submit1.txt"
job=$(json "$out/slurm/submissions.jsonl" "d['job']")
echo "slurm e2e: job $job submitted: $(cat "$work/submit1.txt")"

# Wait until a task has finished one case and is working on the next, then stop it: shard 2's process is
# killed outright (kill -9, what a node failure or the OOM killer does: nothing is recorded), shard 3 is
# cancelled with scancel (SIGTERM: the case in flight finishes and the run records "interrupted").
task_running_midway() {  # $1 = shard
  [ "$(squeue -h -r -j "${job}_$1" -o %T 2>/dev/null)" = RUNNING ] || return 1
  [ -s "$out/manifest-shard-$1-of-4.jsonl" ] || return 1
  ls "$out/.partial/shard-$1-of-4/" 2>/dev/null | grep -q .
}
wait_midway() {  # $1 = shard
  for _ in $(seq 600); do task_running_midway "$1" && return 0; sleep 0.1; done
  fail "shard $1 never ran mid-way"
}
wait_midway 2
pkill -KILL -f -- "--shard 2/4 " || fail "no process of shard 2 to kill"
wait_midway 3
scancel "${job}_3"
while [ -n "$(squeue -h -j "$job" -o %i 2>/dev/null)" ]; do sleep 0.3; done
t1=$(date +%s.%N)

"$vf" status "$out" --json > "$work/status1.json"
"$vf" status "$out"
[ "$(json "$work/status1.json" "d['shardStates'][1]['state']")" = stopped ] || fail "shard 2 (killed) is not 'stopped'"
[ "$(json "$work/status1.json" "d['shardStates'][2]['state']")" = interrupted ] || fail "shard 3 (cancelled) is not 'interrupted'"
[ "$(json "$work/status1.json" "d['shardStates'][0]['state']")" = succeeded ] || fail "shard 1 did not succeed"
[ "$(json "$work/status1.json" "d['shardStates'][3]['state']")" = succeeded ] || fail "shard 4 did not succeed"
missing=$(json "$work/status1.json" "d['cases']['missing']")
[ "$missing" -ge 2 ] || fail "expected missing cases after the kill, got $missing"

"$vf" submit "$work/pipeline.json" -i "$work/archive" -o "$out" --slurm > "$work/submit2.txt"
echo "slurm e2e: re-submitted: $(cat "$work/submit2.txt")"
job2=$(tail -n 1 "$out/slurm/submissions.jsonl" | python3 -c "import json,sys; print(json.load(sys.stdin)['job'])")
[ "$(tail -n 1 "$out/slurm/submissions.jsonl" | python3 -c "import json,sys; print(json.load(sys.stdin)['shards'])")" = "[2, 3]" ] \
  || fail "the re-submission should run shards 2 and 3 only"
while [ -n "$(squeue -h -j "$job2" -o %i 2>/dev/null)" ]; do sleep 0.3; done
t2=$(date +%s.%N)
"$vf" submit "$work/pipeline.json" -i "$work/archive" -o "$out" --slurm | grep -q "nothing to submit" || fail "a third submission should find nothing to do"

"$vf" status "$out" --json > "$work/status2.json"
[ "$(json "$work/status2.json" "d['finished']")" = True ] || fail "not finished after the re-submission"
[ "$(json "$work/status2.json" "d['cases']['done']")" = 16 ] || fail "not all 16 cases done"
"$vf" report "$out" -q
[ "$(json "$out/batch.json" "d['cases']['done']")" = 16 ] || fail "batch.json does not count 16 done"

# Exactly once: each case is logged "ok" by exactly one task, over both submissions.
python3 - "$out" <<'PY' || fail "a case did not complete exactly once"
import collections, glob, re, sys
out = sys.argv[1]
ok = collections.Counter()
for log in glob.glob(out + "/slurm/logs/*.out"):
    for line in open(log):
        m = re.match(r"case (\S+) ok ", line)
        if m: ok[m.group(1)] += 1
lines = collections.Counter()
for manifest in glob.glob(out + "/manifest-shard-*.jsonl"):
    for line in open(manifest):
        lines[line.split('"case":"')[1].split('"')[0]] += 1
cases = ["%02d" % i for i in range(1, 17)]
bad = [c for c in cases if ok[c] != 1 or lines[c] != 1]
print("slurm e2e: completions per case in the task logs:", dict(sorted(ok.items())))
sys.exit(1 if bad else 0)
PY

# The same results as one machine running the whole archive at once.
"$vf" run "$work/pipeline.json" -i "$work/archive" -o "$work/single" -q
diff -r "$work/single/cases" "$out/cases" > /dev/null || fail "case folders differ from a single-machine run"
python3 - "$work/single" "$out" <<'PY' || fail "merged manifest differs from a single-machine run"
import glob, json, sys
def entries(paths):
    result = {}
    for p in paths:
        for line in open(p):
            d = json.loads(line)
            for k in ("timings", "seconds"): d.pop(k)
            result[d["case"]] = d
    return result
single = entries([sys.argv[1] + "/manifest.jsonl"])
merged = entries(glob.glob(sys.argv[2] + "/manifest-shard-*.jsonl"))
sys.exit(0 if single == merged and len(single) == 16 else 1)
PY
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "slurm e2e: passed (first array with two stops %.1f s, re-submission %.1f s)\n", b - a, c - b }'
