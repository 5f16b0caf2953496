#!/usr/bin/env bash
# Usage: bench/scripts/soak.sh [SECONDS]   (default 600; not in CI)
# Builds the release binaries, starts kms-server and a cos-gateway that uses it over gRPC
# (--kms-endpoint), both on loopback in a temp dir, runs `soak` against them for SECONDS, and
# stops both. Every interval prints load, errors, p99 and each server's RSS and open files; the
# exit status is soak's (non-zero on any error). See bench/BENCHMARKS.md, section "Soak".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-600}
(cd "$ROOT" && cargo build --release -q -p kms-server -p cos-gateway -p soak)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
WORK=$(mktemp -d)
cd "$WORK"
mkdir -m 700 kms gw
"$BIN/kms-server" --listen 127.0.0.1:0 --data-dir kms 2> kms.err &
KMS=$!
GW=
trap 'kill $KMS $GW 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
addr() { # the first "listening on ADDR" in a log, waiting up to 30 s
  for _ in $(seq 1 300); do
    a=$(grep -ao "listening on [a-z:/]*[0-9.]*:[0-9]*" "$1" | head -1 | sed 's/.* //; s|.*//||') || true
    [ -n "$a" ] && { echo "$a"; return; }
    sleep 0.1
  done
  echo "no address in $1:" >&2; cat "$1" >&2; exit 1
}
KMS_ADDR=$(addr kms.err)
RUST_LOG=warn "$BIN/cos-gateway" --listen 127.0.0.1:0 --data-dir gw --kms-endpoint "http://$KMS_ADDR" \
  --secret-id AKIDsoak --secret-key soak-secret --allow-ssec-over-http > gw.out 2> gw.err &
GW=$!
GW_ADDR=$(addr gw.out)
echo "kms-server $KMS_ADDR (pid $KMS), cos-gateway $GW_ADDR (pid $GW), data in $WORK"
"$BIN/soak" --kms-endpoint "http://$KMS_ADDR" --gateway "$GW_ADDR" --kms-pid $KMS --gateway-pid $GW \
  --duration "$SECS" ${SOAK_ARGS:-}
