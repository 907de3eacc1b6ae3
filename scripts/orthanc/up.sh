#!/usr/bin/env bash
# Starts Orthanc (Debian `orthanc` + `orthanc-dicomweb`) for the PACS end-to-end tests and benchmarks, in a
# private network namespace: Orthanc cannot be told which address to listen on, and inside `unshare -n` the
# only interface is loopback, so nothing outside reaches it. Its database lives in $VF_ORTHANC_DIR/db and
# survives a restart. Clients run inside the namespace with $VF_ORTHANC_DIR/inns COMMAND…
# HTTP needs basic authentication as voxelflow / $VF_ORTHANC_PASSWORD (default voxelflow-ci), so that the
# tests exercise credentials. Orthanc knows two peers: VOXELFLOW (port 11112, the listening node) and VFMOVE
# (port 11113, the C-MOVE destination of `pull --move-port`). Prints `export VF_ORTHANC_DIR=…` on success. Exit code 3 when it cannot be installed or this is not root.
set -euo pipefail
base=${VF_ORTHANC_DIR:-/tmp/voxelflow-orthanc}
http_port=${VF_ORTHANC_HTTP_PORT:-18042}
dicom_port=${VF_ORTHANC_DICOM_PORT:-14242}
password=${VF_ORTHANC_PASSWORD:-voxelflow-ci}

if [ "$(id -u)" != 0 ]; then echo "orthanc: needs root (network namespace)" >&2; exit 3; fi
if ! command -v Orthanc >/dev/null || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || ! command -v curl >/dev/null; then
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends orthanc orthanc-dicomweb curl >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends orthanc orthanc-dicomweb curl >/dev/null 2>&1; }; }; then
    echo "orthanc: cannot install the Debian packages orthanc, orthanc-dicomweb and curl" >&2; exit 3
  fi
fi
mkdir -p "$base"/{etc,db,log}
cat > "$base/etc/orthanc.json" <<JSON
{
  "Name": "VOXELFLOW-CI",
  "StorageDirectory": "$base/db",
  "IndexDirectory": "$base/db",
  "Plugins": [ "/usr/share/orthanc/plugins/libOrthancDicomWeb.so" ],
  "HttpServerEnabled": true,
  "HttpPort": $http_port,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true,
  "RegisteredUsers": { "voxelflow": "$password" },
  "DicomServerEnabled": true,
  "DicomAet": "ORTHANC",
  "DicomPort": $dicom_port,
  "DicomCheckCalledAet": false,
  "DicomAlwaysAllowEcho": true,
  "DicomAlwaysAllowStore": true,
  "DicomAlwaysAllowFind": true,
  "DicomAlwaysAllowGet": true,
  "DicomModalities": { "voxelflow": [ "VOXELFLOW", "127.0.0.1", 11112 ], "vfmove": [ "VFMOVE", "127.0.0.1", 11113 ] },
  "SaveJobs": false,
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": false, "Ssl": false, "Host": "127.0.0.1:$http_port" }
}
JSON
cat > "$base/inns" <<SH
#!/bin/sh
# Runs a command inside Orthanc's network namespace.
exec nsenter -t "\$(cat '$base/orthanc.pid')" -n "\$@"
SH
chmod +x "$base/inns"
if [ -s "$base/orthanc.pid" ] && kill -0 "$(cat "$base/orthanc.pid")" 2>/dev/null; then
  echo "export VF_ORTHANC_DIR=$base"; exit 0
fi
# exec keeps the PID: it is Orthanc's, and the namespace lives as long as Orthanc (or a client inside it).
unshare -n sh -c "ip link set lo up 2>/dev/null || ifconfig lo up; exec Orthanc --logdir='$base/log' '$base/etc/orthanc.json'" \
  > "$base/log/stdout.log" 2>&1 &
echo $! > "$base/orthanc.pid"
for _ in $(seq 300); do
  "$base/inns" curl -sf -u "voxelflow:$password" "http://127.0.0.1:$http_port/system" >/dev/null 2>&1 && { echo "export VF_ORTHANC_DIR=$base"; exit 0; }
  kill -0 "$(cat "$base/orthanc.pid")" 2>/dev/null || { echo "orthanc: exited; see $base/log" >&2; exit 1; }
  sleep 0.05
done
echo "orthanc: not answering after 15 s; see $base/log" >&2
exit 1
