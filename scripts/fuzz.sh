#!/usr/bin/env bash
# Fuzzes VoxelFlow's parsers with libFuzzer under AddressSanitizer, one target after the other, for a fixed
# time each; not part of `swift test` (the regression tests replay what this finds).
#   scripts/fuzz.sh [--seconds N] [--keep-corpus] [--ci] [TARGET …]   (default: 60 s per target, every target)
# --ci (what scripts/test.sh runs): leaves RESULTS.md and the crash folders as they are, keeps findings in
# $VOXELFLOW_FUZZ_FINDINGS (default /tmp/voxelflow-fuzz-findings) and exits 1 when any target found one.
# Targets (Tests/Fuzz/FuzzTargets.swift): nifti nifti-gz dicom seg deidentify pipeline safetensors checkpoint
# scan-cache dicomdir.
# Seeds: Tests/Fixtures/fuzz/seeds/TARGET (committed, small). With --keep-corpus, the inputs that reached new
# code are merged (minimised) back into the seeds. Crashes, timeouts and out-of-memory inputs are copied to
# Tests/Fixtures/fuzz/crashes/TARGET/, where `swift test` replays them (FuzzRegressionTests); fix the code,
# keep the file. Prints executions, coverage and crashes per target, and appends them to
# Tests/Fixtures/fuzz/RESULTS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds=60
keep=0
ci=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --keep-corpus) keep=1; shift ;;
    --ci) ci=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(nifti nifti-gz dicom seg deidentify pipeline safetensors checkpoint scan-cache dicomdir)

bash scripts/install-deps.sh
swift build -c release --product voxelflow-fuzz --build-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  -Xcc -fsanitize=fuzzer-no-link,address -Xcxx -fsanitize=fuzzer-no-link,address >&2
bin="$root/.build-fuzz/release/voxelflow-fuzz"
work="$(mktemp -d /tmp/voxelflow-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
results="Tests/Fixtures/fuzz/RESULTS.md"
findings_total=0
if [ "$ci" = 1 ]; then
  results="$work/RESULTS.md"
  findings="${VOXELFLOW_FUZZ_FINDINGS:-/tmp/voxelflow-fuzz-findings}"
fi
[ -f "$results" ] || printf '# Fuzzing results\n\n| date | target | seconds | executions | exec/s | coverage (edges) | corpus | crashes |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n' > "$results"
printf '%-12s %8s %12s %8s %8s %8s %8s\n' target seconds executions exec/s edges corpus crashes
for t in "${targets[@]}"; do
  seeds="Tests/Fixtures/fuzz/seeds/$t"
  crashes="Tests/Fixtures/fuzz/crashes/$t"
  [ "$ci" = 1 ] && crashes="$findings/$t"
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts" "$crashes"
  [ -d "$seeds" ] && cp "$seeds"/* "$work/$t/corpus/" 2>/dev/null || true
  log="$work/$t/log.txt"
  # -max_len 65536: headers and small images; -rss_limit_mb: an input that needs more memory is a finding.
  VOXELFLOW_FUZZ_TARGET="$t" ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    "$bin" "$work/$t/corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 -fork=0 >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  found=0
  for a in "$work/$t/artifacts"/*; do
    [ -e "$a" ] || continue
    cp "$a" "$crashes/$(basename "$a")"
    found=$((found + 1))
  done
  findings_total=$((findings_total + found))
  if [ "$found" -gt 0 ]; then
    echo "voxelflow: $t: $found finding(s) copied to $crashes; the log's last lines:" >&2
    grep -E "ERROR|SUMMARY|panic|Fatal|fatal" "$log" | head -5 >&2 || true
  fi
  corpus=$(ls "$work/$t/corpus" | wc -l)
  if [ "$keep" = 1 ]; then
    mkdir -p "$work/$t/min" "$seeds"
    VOXELFLOW_FUZZ_TARGET="$t" ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
      "$bin" -merge=1 "$work/$t/min" "$seeds" "$work/$t/corpus" -max_len=65536 >/dev/null 2>&1 || true
    rm -f "$seeds"/*
    cp "$work/$t/min"/* "$seeds/" 2>/dev/null || true
    corpus=$(ls "$seeds" | wc -l)
  fi
  printf '%-12s %8s %12s %8s %8s %8s %8s\n' "$t" "$seconds" "$execs" "$rate" "$edges" "$corpus" "$found"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(date -u +%Y-%m-%d)" "$t" "$seconds" "$execs" "$rate" "$edges" "$corpus" "$found" >> "$results"
done
if [ "$ci" = 1 ] && [ "$findings_total" -gt 0 ]; then
  echo "voxelflow: fuzzing found $findings_total input(s) that crash, hang or exhaust memory; they are in $findings (copy each to Tests/Fixtures/fuzz/crashes/TARGET/, fix, keep)" >&2
  exit 1
fi
