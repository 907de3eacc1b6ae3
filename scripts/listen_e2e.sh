#!/usr/bin/env bash
# End-to-end check of `voxelflow listen`, inside the network namespace of the Orthanc of
# scripts/orthanc/up.sh (so the node is reachable on loopback only, and can push to Orthanc):
#   1. the sample head CT series is sent with DCMTK's storescu; the node files it when quiet, runs the bone
#      pipeline, whose push-dicomweb stage sends the SEG to Orthanc: the case is done and the SEG is there;
#   2. a second series is sent and the node is killed with kill -9 before the series goes quiet; after a
#      restart with the same folder the series is filed and processed, nothing received is lost (the 17
#      instances sent are in the archive and give the same volumes as the files sent), and the first case
#      is not run again.
# Skips with a message when Orthanc (and with it the namespace) cannot be set up.
# Usage: scripts/listen_e2e.sh [VOXELFLOW_EXECUTABLE]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vf=${1:-$root/.build/release/voxelflow}
[ -x "$vf" ] || { echo "listen e2e: $vf not built" >&2; exit 1; }
command -v storescu >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dcmtk >/dev/null 2>&1 || true
command -v storescu >/dev/null || { echo "listen e2e: skipped: DCMTK's storescu (Debian dcmtk) is not installed"; exit 0; }
work=$(mktemp -d /tmp/voxelflow-listen-e2e.XXXXXX)
export VF_ORTHANC_DIR="$work/orthanc" VF_ORTHANC_PASSWORD="pw-$RANDOM-$RANDOM"
node_pid=""
cleanup() { [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null; bash "$root/scripts/orthanc/down.sh"; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "listen e2e: FAILED: $*" >&2; cat "$work"/node*.log >&2 2>/dev/null || true; exit 1; }

source "$root/scripts/orthanc/lib.sh"
orthanc_start "listen e2e"
write_push_pipeline "$work/pipeline.json"
node="$work/node"
start_node() { "$inns" "$vf" listen --pipeline "$work/pipeline.json" -o "$node" --port 11113 --ae-title VOXELFLOW --quiet-seconds 2 --jobs 1 >> "$work/node-$1.log" 2>&1 & node_pid=$!; }
wait_for() {  # seconds, description, command…
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  fail "$what (waited $limit s)"
}
cases_done() { [ -f "$node/results/manifest.jsonl" ] && [ "$(grep -c '"status":"ok"' "$node/results/manifest.jsonl")" -ge "$1" ]; }
segs_in_pacs() { [ "$("$inns" curl -sf -u "voxelflow:$VF_ORTHANC_PASSWORD" "$url/dicom-web/series?Modality=SEG" | grep -o '"0020000E"' | wc -l)" -ge "$1" ]; }
listening() { "$inns" echoscu -aec VOXELFLOW 127.0.0.1 11113 >/dev/null 2>&1; }

# 1. a series in, a SEG out
start_node 1
wait_for 20 "the node does not answer C-ECHO" listening
"$inns" storescu -aec VOXELFLOW 127.0.0.1 11113 "$root"/sample-data/dicom/ct_head_implicit/*.dcm || fail "storescu could not send the series"
wait_for 60 "the first case was not processed" cases_done 1
wait_for 20 "the SEG did not arrive in Orthanc" segs_in_pacs 1
echo "listen e2e: series received, processed and its SEG pushed to the PACS"

# 2. kill -9 between receipt and processing, restart, nothing lost
"$inns" storescu -aec VOXELFLOW 127.0.0.1 11113 "$root/sample-data/dicom/CT_small.dcm" || fail "storescu could not send CT_small"
kill -9 "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=""
[ "$(grep -c '"status":"ok"' "$node/results/manifest.jsonl")" = 1 ] || fail "the second series was processed before the kill; the test did not test a restart"
start_node 2
wait_for 60 "after the restart the second case was not processed" cases_done 2
wait_for 20 "the second SEG did not arrive in Orthanc" segs_in_pacs 2
kill -TERM "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=""
[ "$(find "$node/archive" -name '*.dcm' | wc -l)" = 17 ] || fail "expected 17 instances in the archive, found $(find "$node/archive" -name '*.dcm' | wc -l)"
# Files are named by SOP Instance UID; storescu sends datasets (the file meta header is the receiver's),
# so the check is: the same instances, and the same NIfTI volumes from them as from the files sent.
find "$node/archive" -name '*.dcm' -printf '%f\n' | sed 's/\.dcm$//' | sort > "$work/got.uids"
for f in "$root"/sample-data/dicom/ct_head_implicit/*.dcm "$root/sample-data/dicom/CT_small.dcm"; do
  dcmdump +P 0008,0018 "$f" | sed 's/.*\[\(.*\)\].*/\1/'
done | sort | cmp -s - "$work/got.uids" || fail "the archived instances are not the ones sent"
"$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$node/archive" -o "$work/from-node" -q
"$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$root/sample-data/dicom" -o "$work/from-files" -q
diff -r -x report.json "$work/from-node/cases" "$work/from-files/cases" >/dev/null || fail "the received series give other volumes than the files sent"
[ "$(wc -l < "$node/results/manifest.jsonl")" = 2 ] || fail "a case ran twice: $(wc -l < "$node/results/manifest.jsonl") manifest lines"
echo "listen e2e: killed with -9 before the second series was processed; after the restart it was, with all 17 instances kept and no case run twice"
echo "listen e2e: passed"
