# Shared by the end-to-end scripts that need Orthanc (scripts/pacs_e2e.sh, scripts/listen_e2e.sh).
# Expects: $root (the repository), $work (the script's scratch folder), a `fail` function and a NAME for
# messages; exports VF_ORTHANC_DIR and VF_ORTHANC_PASSWORD before sourcing.

# Starts Orthanc; exits 0 with "NAME: skipped: …" when it cannot be installed. Sets inns, url, and writes
# the password to $work/password.
orthanc_start() {
  local name=$1 rc
  set +e
  bash "$root/scripts/orthanc/up.sh" >/dev/null 2>"$work/up.err"; rc=$?
  set -e
  if [ $rc = 3 ]; then echo "$name: skipped: $(cat "$work/up.err")"; exit 0; fi
  [ $rc = 0 ] || { cat "$work/up.err" >&2; fail "Orthanc did not start"; }
  inns="$VF_ORTHANC_DIR/inns"
  url=http://127.0.0.1:${VF_ORTHANC_HTTP_PORT:-18042}
  printf '%s\n' "$VF_ORTHANC_PASSWORD" > "$work/password"
  chmod 600 "$work/password"
}

# Writes to $1 the bone pipeline with a push stage to Orthanc before its report: push-dicomweb, or push-dimse
# (C-STORE to Orthanc's DICOM port) when $2 is "dimse".
write_push_pipeline() {
  python3 - "$root/pipelines/ct-bone-segmentation.json" "$1" "$url/dicom-web" "$work/password" "$root/pipelines" "${2:-dicomweb}" \
    "dimse://ORTHANC@127.0.0.1:${VF_ORTHANC_DICOM_PORT:-14242}" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for s in p["stages"]:
    if "labelTable" in s: s["labelTable"] = sys.argv[5] + "/" + s["labelTable"]
if sys.argv[6] == "dimse":
    stage = {"id": "push", "type": "push-dimse", "peer": sys.argv[7]}
else:
    stage = {"id": "push", "type": "push-dicomweb", "url": sys.argv[3], "user": "voxelflow", "passwordFile": sys.argv[4]}
p["stages"].insert(len(p["stages"]) - 1, stage)
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
}
