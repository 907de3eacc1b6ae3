#!/usr/bin/env bash
# Regenerates Tests/Fixtures/nibabel_nifti_refs.jsonl: nibabel's reading of every NIfTI file in the shared
# corpus (../shared/data/nifti) and in sample-data/. Run after changing either set of files.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/scripts/setup-oracles.sh"
py="$root/.venv-oracles/bin/python"
out="$root/Tests/Fixtures/nibabel_nifti_refs.jsonl"
shared="$root/../shared/data"
{
  if [ -d "$shared/nifti" ]; then
    find "$shared/nifti" -type f \( -name '*.nii' -o -name '*.nii.gz' -o -name '*.hdr' \) | sort | xargs "$py" "$root/scripts/oracles/nifti_reference.py" --root "$shared"
  fi
  find "$root/sample-data" -type f \( -name '*.nii' -o -name '*.nii.gz' -o -name '*.hdr' \) | sort | xargs "$py" "$root/scripts/oracles/nifti_reference.py" --root "$root"
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($(wc -l < "$out") files)"
