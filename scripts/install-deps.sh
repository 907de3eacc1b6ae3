#!/usr/bin/env bash
# Installs the Debian 12 packages VoxelFlow builds against.
# Runs apt-get only for what is missing; without root it prints the exact command instead.
# Usage: scripts/install-deps.sh [--test|--bench]
#   --test  adds what the test oracles need (python3-venv; dicom3tools for dciodvfy, which validates written SEGs
#           and RTSTRUCTs; chromium, which renders the HTML reports; dcmtk's storescu/echoscu, which send to
#           `voxelflow listen`)
#   --bench adds the peer tools the benchmarks compare against (python3-venv, dcm2niix)
set -euo pipefail

PACKAGES=(
  pkg-config
  libdcmtk-dev      # DICOM parsing and codecs (CDCMTK bridge)
  libnifti2-dev     # NIfTI-1/2 headers (CNIfTI bridge)
  libopenblas-dev   # sgemm for the CNN engine (CBLAS bridge)
  libdeflate-dev    # fast gzip for .nii.gz
  zlib1g-dev
  libopenjp2-7-dev  # JPEG 2000 decoding
  libpng-dev        # report pictures
  libcurl4-openssl-dev  # DICOMweb (HTTP, TLS) for PACS input and output (CCurl bridge)
)

if [ "${1:-}" = "--test" ]; then
  PACKAGES+=(python3 python3-venv dicom3tools chromium dcmtk)
elif [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(python3 python3-venv dcm2niix)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "voxelflow: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "voxelflow: missing Debian packages: ${missing[*]}" >&2
  echo "run as root:  $cmd" >&2
  exit 1
fi
