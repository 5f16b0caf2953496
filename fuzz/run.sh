#!/usr/bin/env bash
# Runs every fuzz target for a fixed time each, from its committed seeds (corpus/<target>/), and
# fails on the first crash, panic, failed invariant, timeout or out-of-memory.
#
# usage: fuzz/run.sh [seconds per target, default 20] [target ...]
#
# The toolchain is stable: cargo-fuzz passes nightly-only flags to rustc, so RUSTC_BOOTSTRAP=1 lets
# stable accept them. No sanitizer (they need nightly's sanitizer runtimes); the build has debug
# assertions and overflow checks (-a). New inputs a run finds go to a scratch corpus, never into
# the committed one. A crash input is saved under fuzz/artifacts/<target>/; make it a regression
# test in the crate that failed, then fix the crate.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"
shift || true
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/cos-kms-fuzz/target}"
flags=(-s none -a --codegen-units 16 --target-dir "$CARGO_TARGET_DIR")
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi

start=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "fuzz build: $(( $(date +%s) - start )) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  log="$scratch/$t.log"
  # -timeout: one input running longer is a hang; -rss_limit_mb: a memory blow-up is a crash.
  # TMPDIR: what a target keeps on disk (tencent_action's KMS) goes with the scratch corpus.
  if TMPDIR="$scratch" cargo fuzz run "${flags[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    passed=$((passed + 1))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    echo "fuzz $t: ok, $execs runs in ${secs} s; ${last}"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FAILED"
    grep -v '^#' "$log" | tail -40
  fi
done
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
