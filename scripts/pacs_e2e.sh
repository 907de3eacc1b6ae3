#!/usr/bin/env bash
# End-to-end check of `voxelflow pull` against a real PACS: Orthanc with its DICOMweb plugin
# (scripts/orthanc/up.sh, in a private network namespace, HTTP basic authentication).
#   1. the committed sample series are stored in Orthanc (REST);
#   2. a pull with the right credentials retrieves them byte for byte (same SHA-256 set), and the
#      dicom-to-nifti pipeline on the pulled folder writes the same NIfTI files as on sample-data/dicom;
#   3. a wrong password fails with HTTP 401 and the password appears nowhere in the output or records;
#   4. Orthanc is stopped in the middle of a rate-limited pull: the series in flight fails with the reason
#      (exit code 4) and nothing half-written stays; after a restart, --resume retrieves only what is
#      missing, and the result is again byte-identical;
#   5. the same series pulled over DIMSE (C-FIND + C-GET from Orthanc's DICOM port — on 4 associations sharing
#      a series and on one, the same files —, and C-FIND + C-MOVE to
#      a port of ours) give the same NIfTI files; a port where nothing listens, and a C-MOVE destination
#      Orthanc does not know, fail with the reason;
#   6. `voxelflow run --input URL` pulls and runs in passes: the same NIfTI files as from the local files, over
#      DICOMweb and over DIMSE, and a --resume retrieves and runs nothing again; with --cache-limit the
#      processed series leave only their marker in the cache, and a --resume neither retrieves nor runs them;
#   7. a pipeline on the pulled series with a push-dicomweb stage sends its DICOM SEGs and measurement reports
#      (DICOM SR) back: Orthanc files
#      them under the CT's study, they retrieve byte-identical to the files written, the manifest records
#      "stored" per instance, and neither `run --resume` nor `voxelflow push` sends them a second time;
#   8. the same with a push-dimse stage (C-STORE): after the SEGs and SRs are deleted from Orthanc, the pipeline
#      stores them again over DIMSE; they retrieve with the same data set bytes as written (only the file
#      meta header is the receiver's), `voxelflow push dimse://…` sends nothing twice, and a C-STORE to a
#      port where nothing listens fails each instance with the reason;
#   9. HTTPS (a TLS front before Orthanc, its certificate signed by a certificate authority made here): a pull
#      with --ca-file retrieves the series byte-identical; without it, the certificate is refused and named.
# Skips with a message when Orthanc cannot be installed or this is not root.
# Usage: scripts/pacs_e2e.sh [VOXELFLOW_EXECUTABLE]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vf=${1:-$root/.build/release/voxelflow}
[ -x "$vf" ] || { echo "pacs e2e: $vf not built" >&2; exit 1; }
work=$(mktemp -d /tmp/voxelflow-pacs-e2e.XXXXXX)
export VF_ORTHANC_DIR="$work/orthanc" VF_ORTHANC_PASSWORD="pw-$RANDOM-$RANDOM"
cleanup() { bash "$root/scripts/orthanc/down.sh"; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "pacs e2e: FAILED: $*" >&2; exit 1; }

source "$root/scripts/orthanc/lib.sh"
orthanc_start "pacs e2e"

# 1. the sample series into the PACS
originals=("$root"/sample-data/dicom/ct_head_implicit/*.dcm "$root/sample-data/dicom/CT_small.dcm")
for f in "${originals[@]}"; do
  "$inns" curl -sf -u "voxelflow:$VF_ORTHANC_PASSWORD" -X POST "$url/instances" --data-binary @"$f" -o /dev/null || fail "cannot store $f in Orthanc"
done
sha256sum "${originals[@]}" | awk '{print $1}' | sort > "$work/originals.sha"
same_bytes() { find "$1" -name '*.dcm' -exec sha256sum {} + | awk '{print $1}' | sort | cmp -s - "$work/originals.sha"; }

# 2. pull, byte for byte, and the same pipeline results as from the files themselves
"$inns" "$vf" pull "$url/dicom-web" -o "$work/pulled" --user voxelflow --password-file "$work/password" --modality CT -q > "$work/pull1.txt"
same_bytes "$work/pulled" || fail "pulled files differ from the originals"
[ "$(grep -c '"status":"ok"' "$work/pulled/pull.jsonl")" = 2 ] || fail "pull.jsonl does not record 2 series ok"
"$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$work/pulled" -o "$work/from-pacs" -q
"$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$root/sample-data/dicom" -o "$work/from-files" -q
diff -r -x report.json "$work/from-pacs/cases" "$work/from-files/cases" >/dev/null || fail "the pipeline's NIfTI files differ between pulled and local series"
[ "$(find "$work/from-pacs/cases" -name '*.nii.gz' | wc -l)" = 2 ] || fail "expected 2 NIfTI files"
echo "pacs e2e: pulled 2 series (17 instances) byte-identical; pipeline results identical"

# 3. a wrong password: HTTP 401, and no password anywhere
printf 'wrong-%s\n' "$VF_ORTHANC_PASSWORD" > "$work/wrong"
set +e
"$inns" "$vf" pull "$url/dicom-web" -o "$work/denied" --user voxelflow --password-file "$work/wrong" > "$work/denied.txt" 2>&1; rc=$?
set -e
[ $rc = 2 ] || fail "a wrong password should exit 2, got $rc"
grep -q "HTTP 401" "$work/denied.txt" || fail "no HTTP 401 in: $(cat "$work/denied.txt")"
if grep -rq -e "$VF_ORTHANC_PASSWORD" "$work/denied.txt" "$work/pull1.txt" "$work/pulled/pull.jsonl" "$work/from-pacs"; then fail "a password appears in output or records"; fi

# 4. the PACS goes away in the middle of a pull; --resume after its restart
set +e
"$inns" "$vf" pull "$url/dicom-web" -o "$work/cut" --user voxelflow --password-file "$work/password" \
  --max-rate 200K --jobs 1 --retries 2 --backoff 0.2 > "$work/cut.txt" 2>&1 &
pid=$!
set -e
for _ in $(seq 100); do ls "$work/cut/.partial/"*/ 2>/dev/null | grep -q dcm && break; sleep 0.05; done
bash "$root/scripts/orthanc/down.sh"
set +e; wait $pid; rc=$?; set -e
[ $rc = 4 ] || fail "a pull cut short should exit 4, got $rc: $(cat "$work/cut.txt")"
grep -q '"status":"failed"' "$work/cut/pull.jsonl" || fail "no failed series recorded"
[ ! -d "$work/cut/.partial" ] || [ -z "$(ls -A "$work/cut/.partial")" ] || fail "half-retrieved files left in .partial"
bash "$root/scripts/orthanc/up.sh" >/dev/null
"$inns" "$vf" pull "$url/dicom-web" -o "$work/cut" --user voxelflow --password-file "$work/password" --resume -q > "$work/resume.txt"
same_bytes "$work/cut" || fail "after --resume the files differ from the originals"
echo "pacs e2e: cut short: $(grep -c '"status":"failed"' "$work/cut/pull.jsonl") series failed ($(grep -o '"error":"[^"]*' "$work/cut/pull.jsonl" | head -1 | cut -c10-90)…); resumed: $(tail -n 1 "$work/resume.txt")"
# 5. over DIMSE
"$inns" "$vf" pull "dimse://ORTHANC@127.0.0.1:${VF_ORTHANC_DICOM_PORT:-14242}" --calling-ae VOXELFLOW -o "$work/dimse" --modality CT -q > /dev/null
[ "$(find "$work/dimse" -name '*.dcm' | wc -l)" = 17 ] || fail "the DIMSE pull did not bring 17 instances"
"$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$work/dimse" -o "$work/from-dimse" -q
diff -r -x report.json "$work/from-dimse/cases" "$work/from-files/cases" >/dev/null || fail "the NIfTI files from the DIMSE pull differ"
# The 16-slice series came on 4 associations (IMAGE-level C-GETs of UID lists); on one, the same files.
"$inns" "$vf" pull "dimse://ORTHANC@127.0.0.1:${VF_ORTHANC_DICOM_PORT:-14242}" --calling-ae VOXELFLOW --associations 1 -o "$work/dimse-one" --modality CT -q > /dev/null
files_sha() { (cd "$1" && find . -name '*.dcm' -exec sha256sum {} + | awk '{print $1}' | sort); }
[ "$(files_sha "$work/dimse-one")" = "$(files_sha "$work/dimse")" ] || fail "C-GET on 4 associations and on one bring different files"
set +e
"$inns" "$vf" pull "dimse://ORTHANC@127.0.0.1:1" -o "$work/dimse-nowhere" > "$work/nowhere.txt" 2>&1; rc=$?
set -e
[ $rc = 2 ] && grep -q "cannot open an association" "$work/nowhere.txt" || fail "a DIMSE peer that does not answer: exit $rc, $(cat "$work/nowhere.txt")"
"$inns" "$vf" pull "dimse://ORTHANC@127.0.0.1:${VF_ORTHANC_DICOM_PORT:-14242}" --calling-ae VOXELFLOW --move-ae VFMOVE --move-port 11113 \
  -o "$work/dimse-move" --modality CT -q > /dev/null
[ "$(find "$work/dimse-move" -name '*.dcm' | wc -l)" = 17 ] || fail "the C-MOVE pull did not bring 17 instances"
"$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$work/dimse-move" -o "$work/from-move" -q
diff -r -x report.json "$work/from-move/cases" "$work/from-files/cases" >/dev/null || fail "the NIfTI files from the C-MOVE pull differ"
set +e
"$inns" "$vf" pull "dimse://ORTHANC@127.0.0.1:${VF_ORTHANC_DICOM_PORT:-14242}" --move-ae NOSUCHAE --move-port 11114 --retries 0 \
  -o "$work/move-unknown" --modality CT > "$work/move-unknown.txt" 2>&1; rc=$?
set -e
[ $rc = 4 ] && grep -q "C-MOVE" "$work/move-unknown.txt" || fail "a C-MOVE to an unknown destination: exit $rc, $(cat "$work/move-unknown.txt")"
echo "pacs e2e: DIMSE C-FIND + C-GET and C-FIND + C-MOVE pulls give the same NIfTI files; a silent peer and an unknown C-MOVE destination are named ($(grep -o 'C-MOVE[^"]*' "$work/move-unknown.txt" | head -1))"

# 6. run straight from the PACS
"$inns" "$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$url/dicom-web" --user voxelflow --password-file "$work/password" -o "$work/run-web" -q > "$work/run-web.txt"
"$inns" "$vf" run "$root/pipelines/dicom-to-nifti.json" -i "dimse://ORTHANC@127.0.0.1:${VF_ORTHANC_DICOM_PORT:-14242}" -o "$work/run-dimse" -q > /dev/null
for r in run-web run-dimse; do
  diff -r -x report.json "$work/$r/cases" "$work/from-files/cases" >/dev/null || fail "run --input URL ($r) gave other NIfTI files"
done
lines=$(wc -l < "$work/run-web/manifest.jsonl")
"$inns" "$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$url/dicom-web" --user voxelflow --password-file "$work/password" -o "$work/run-web" -q --resume > "$work/run-web2.txt"
grep -q "2 cases done, 0 failed, in 1 pass" "$work/run-web2.txt" || fail "the resumed run from the PACS: $(cat "$work/run-web2.txt")"
[ "$(wc -l < "$work/run-web/manifest.jsonl")" = "$lines" ] || fail "the resumed run from the PACS ran cases again"
[ "$(grep -c '"status":"ok"' "$work/run-web/pacs/pull.jsonl")" = 2 ] || fail "the resumed run from the PACS retrieved series again"
echo "pacs e2e: run --input URL over DICOMweb and DIMSE gives the same NIfTI files; --resume retrieves and runs nothing again"
"$inns" "$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$url/dicom-web" --user voxelflow --password-file "$work/password" -o "$work/run-bounded" \
  --cache-limit 1K > "$work/run-bounded.txt" 2>&1
diff -r -x report.json "$work/run-bounded/cases" "$work/from-files/cases" >/dev/null || fail "run --cache-limit gave other NIfTI files"
grep -q "2 processed series removed" "$work/run-bounded.txt" || fail "run --cache-limit: $(cat "$work/run-bounded.txt")"
[ "$(find "$work/run-bounded/pacs" -type f ! -name pull.jsonl | wc -l)" = 2 ] && [ "$(find "$work/run-bounded/pacs" -name .processed | wc -l)" = 2 ] \
  || fail "the bounded cache holds more than the two markers: $(find "$work/run-bounded/pacs" -type f | head)"
"$inns" "$vf" run "$root/pipelines/dicom-to-nifti.json" -i "$url/dicom-web" --user voxelflow --password-file "$work/password" -o "$work/run-bounded" \
  --cache-limit 1K --resume -q > "$work/run-bounded2.txt"
[ "$(grep -c '"status":"ok"' "$work/run-bounded/pacs/pull.jsonl")" = 2 ] || fail "the resumed bounded run retrieved series again"
[ "$(wc -l < "$work/run-bounded/manifest.jsonl")" = 2 ] || fail "the resumed bounded run ran cases again"
echo "pacs e2e: run --cache-limit: $(grep '^cache:' "$work/run-bounded.txt"); --resume retrieves and runs nothing again"

# 7. results back into the PACS from a pipeline stage, once
write_push_pipeline "$work/push.json"
"$inns" "$vf" run "$work/push.json" -i "$work/pulled" -o "$work/segs" -q
[ "$(grep -c '"status":"stored"' "$work/segs/pushed.jsonl")" = 4 ] || fail "pushed.jsonl does not record 2 stored SEGs and 2 stored SRs"
python3 - "$work/segs/manifest.jsonl" <<'PY' || fail "the manifest does not record the pushed SEGs"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 2
for l in lines:
    pushed = {i["file"]: i["status"] for i in l["pushed"]["instances"]}
    assert pushed == {"bone_seg.dcm": "stored", "measurements.dcm": "stored"}, pushed
PY
"$inns" "$vf" pull "$url/dicom-web" -o "$work/segs-back" --user voxelflow --password-file "$work/password" --modality SEG -q > /dev/null
find "$work/segs/cases" -name bone_seg.dcm -exec sha256sum {} + | awk '{print $1}' | sort > "$work/segs.sha"
find "$work/segs-back" -name '*.dcm' -exec sha256sum {} + | awk '{print $1}' | sort | cmp -s - "$work/segs.sha" || fail "the SEGs in the PACS differ from those written"
"$inns" "$vf" pull "$url/dicom-web" -o "$work/srs-back" --user voxelflow --password-file "$work/password" --modality SR -q > /dev/null
find "$work/segs/cases" -name measurements.dcm -exec sha256sum {} + | awk '{print $1}' | sort > "$work/srs.sha"
find "$work/srs-back" -name '*.dcm' -exec sha256sum {} + | awk '{print $1}' | sort | cmp -s - "$work/srs.sha" || fail "the measurement reports in the PACS differ from those written"
for study in $(python3 -c "import json,sys; [print(json.loads(l)['study']) for l in open(sys.argv[1])]" "$work/segs-back/pull.jsonl"); do
  grep -q "\"study\":\"$study\"" "$work/pulled/pull.jsonl" || fail "a SEG was filed under study $study, which holds no CT series"
done
"$inns" "$vf" run "$work/push.json" -i "$work/pulled" -o "$work/segs" -q --resume
"$inns" "$vf" push "$url/dicom-web" "$work/segs" --user voxelflow --password-file "$work/password" > "$work/push-again.txt"
grep -q "0 stored, 0 stored with warnings, 4 already there, 0 failed" "$work/push-again.txt" || fail "a second push sent SEGs again: $(tail -n 1 "$work/push-again.txt")"
[ "$(wc -l < "$work/segs/pushed.jsonl")" = 4 ] || fail "the push record grew on --resume or a second push"
echo "pacs e2e: pipeline pushed 2 SEGs and their 2 measurement reports (DICOM SR) into their CT studies, retrieved byte-identical; --resume and push sent nothing twice"

# 8. the same over DIMSE C-STORE, once the SEGs are gone from Orthanc
for modality in SEG SR; do
  for id in $("$inns" curl -sf -u "voxelflow:$VF_ORTHANC_PASSWORD" "$url/tools/find" -d "{\"Level\":\"Series\",\"Query\":{\"Modality\":\"$modality\"}}" | python3 -c "import json,sys; print(' '.join(json.load(sys.stdin)))"); do
    "$inns" curl -sf -u "voxelflow:$VF_ORTHANC_PASSWORD" -X DELETE "$url/series/$id" > /dev/null
  done
done
write_push_pipeline "$work/push-dimse.json" dimse
"$inns" "$vf" run "$work/push-dimse.json" -i "$work/pulled" -o "$work/segs-dimse" -q
[ "$(grep -c '"status":"stored"' "$work/segs-dimse/pushed.jsonl")" = 4 ] || fail "pushed.jsonl does not record 2 SEGs and 2 SRs stored over DIMSE: $(cat "$work/segs-dimse/pushed.jsonl")"
grep -q '"destination":"dimse://ORTHANC@127.0.0.1:' "$work/segs-dimse/pushed.jsonl" || fail "the push record does not name the DIMSE peer"
"$inns" "$vf" pull "$url/dicom-web" -o "$work/segs-dimse-back" --user voxelflow --password-file "$work/password" --modality SEG -q > /dev/null
dataset_sha() { python3 - "$@" <<'PY'
import hashlib, struct, sys
for path in sys.argv[1:]:
    b = open(path, "rb").read()
    assert b[128:132] == b"DICM" and b[132:136] == b"\x02\x00\x00\x00", path
    meta = struct.unpack("<I", b[140:144])[0]
    print(hashlib.sha256(b[144 + meta:]).hexdigest())
PY
}
dataset_sha $(find "$work/segs-dimse/cases" -name bone_seg.dcm) | sort > "$work/segs-dimse.sha"
dataset_sha $(find "$work/segs-dimse-back" -name '*.dcm') | sort | cmp -s - "$work/segs-dimse.sha" || fail "the SEGs stored over DIMSE differ from those written"
"$inns" "$vf" push "dimse://ORTHANC@127.0.0.1:${VF_ORTHANC_DICOM_PORT:-14242}" "$work/segs-dimse" > "$work/push-dimse-again.txt"
grep -q "0 stored, 0 stored with warnings, 4 already there, 0 failed" "$work/push-dimse-again.txt" || fail "a second DIMSE push sent SEGs again: $(tail -n 1 "$work/push-dimse-again.txt")"
set +e
"$inns" "$vf" push "dimse://ORTHANC@127.0.0.1:1" "$work/segs-dimse" --record "$work/nowhere.jsonl" --retries 0 > "$work/push-nowhere.txt" 2>&1; rc=$?
set -e
[ $rc = 4 ] && grep -q "cannot open an association" "$work/push-nowhere.txt" || fail "a C-STORE to a silent port: exit $rc, $(cat "$work/push-nowhere.txt")"
echo "pacs e2e: push-dimse stored 2 SEGs (and 2 SRs) by C-STORE, the same data sets came back; a second push sent nothing; a silent port is named"

# 9. HTTPS with a private certificate authority, through a TLS front (scripts/orthanc/tls_proxy.py)
if command -v openssl >/dev/null; then
  tls="$work/tls"; mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=VoxelFlow test CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > "$tls/ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 -extfile "$tls/ext" -out "$tls/server.crt" 2>/dev/null
  cat "$tls/server.crt" "$tls/server.key" > "$tls/server.pem"
  "$inns" python3 "$root/scripts/orthanc/tls_proxy.py" "$tls/server.pem" 18443 "${VF_ORTHANC_HTTP_PORT:-18042}" &
  proxy=$!
  for _ in $(seq 100); do "$inns" curl -sf --cacert "$tls/ca.pem" -u "voxelflow:$VF_ORTHANC_PASSWORD" https://127.0.0.1:18443/system >/dev/null 2>&1 && break; sleep 0.05; done
  "$inns" "$vf" pull https://127.0.0.1:18443/dicom-web -o "$work/tls-pulled" --user voxelflow --password-file "$work/password" --modality CT --ca-file "$tls/ca.pem" -q > /dev/null \
    || { kill $proxy; fail "the pull over HTTPS with --ca-file failed"; }
  set +e
  "$inns" "$vf" pull https://127.0.0.1:18443/dicom-web -o "$work/tls-untrusted" --user voxelflow --password-file "$work/password" --modality CT > "$work/tls-untrusted.txt" 2>&1; rc=$?
  set -e
  kill $proxy 2>/dev/null || true
  same_bytes "$work/tls-pulled" || fail "the series pulled over HTTPS differ from the originals"
  [ $rc = 2 ] && grep -qi "certificate" "$work/tls-untrusted.txt" || fail "HTTPS without the CA file: exit $rc, $(cat "$work/tls-untrusted.txt")"
  if grep -q -e "$VF_ORTHANC_PASSWORD" "$work/tls-untrusted.txt"; then fail "the password appears in the TLS error"; fi
  echo "pacs e2e: HTTPS with --ca-file pulled the series byte-identical; without it: $(grep -io 'ssl[^"]*certificate[^"]*' "$work/tls-untrusted.txt" | head -1 | cut -c1-80)"
else
  echo "pacs e2e: HTTPS check skipped: no openssl command"
fi
echo "pacs e2e: passed"
