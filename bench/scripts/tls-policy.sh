#!/usr/bin/env bash
# Usage: cargo build --release -p kms-server -p kms-bench && bench/scripts/tls-policy.sh
# TLS + token bench: server A = TLS, development mode (no policy, no audit); server B = TLS + policy
# (token) + audit log to a file. Rounds alternate A and B; each round runs health, gdk, decrypt.
# CONC=N sets the calls in flight (16). C_SERVER=path/to/another/kms-server adds server C, like B but that binary (an older build, to
# compare two versions of the policy and audit path in the same run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d); cd "$WORK"; mkdir -p a b c
BIN=$ROOT/target/release
SERVER=${SERVER:-$BIN/kms-server}
BENCH=${BENCH:-$BIN/kms-bench}
C_SERVER=${C_SERVER:-}
TOKEN=bench-token-0123456789abcdef0123456789
printf '%s' "$TOKEN" > tok; chmod 600 tok
D=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
printf 'identities:\n  - name: bench\n    token_sha256: "%s"\n    allow: ["*"]\n' "$D" > policy.yaml; chmod 600 policy.yaml
"$SERVER" --listen 127.0.0.1:0 --data-dir a --tls-self-signed 2> a.err &
PA=$!
"$SERVER" --listen 127.0.0.1:0 --data-dir b --tls-self-signed --policy policy.yaml --audit-log b/audit.log 2> b.err &
PB=$!
PIDS="$PA $PB"
if [ -n "$C_SERVER" ]; then
  "$C_SERVER" --listen 127.0.0.1:0 --data-dir c --tls-self-signed --policy policy.yaml --audit-log c/audit.log 2> c.err &
  PC=$!
  PIDS="$PIDS $PC"
fi
trap 'kill $PIDS' EXIT
sleep 2
addr() { grep -o "listening on [0-9.:]*" "$1" | head -1 | awk '{print $3}' | sed 's/127.0.0.1/localhost/'; }
run() { # name endpoint-dir pid [extra args]
  local name=$1 dir=$2 pid=$3; shift 3
  echo "== round $r $name"
  "$BENCH" --endpoint "https://$(addr "$dir.err")" --ca-cert "$dir/ca.pem" "$@" \
    --op health,generate-data-key,decrypt --duration 2 --warmup 0.5 --concurrency "${CONC:-16}" \
    --server-pid "$pid" 2>&1 | grep -E "^ *(op|health|generate-data-key|decrypt)" || true
}
for r in $(seq 1 "${ROUNDS:-5}"); do
  run "A (TLS, no policy, no audit)" a "$PA"
  run "B (TLS, token policy, audit file)" b "$PB" --token-file tok
  if [ -n "$C_SERVER" ]; then
    run "C ($C_SERVER: TLS, token policy, audit file)" c "$PC" --token-file tok
  fi
done
wc -l b/audit.log
if [ -n "$C_SERVER" ]; then wc -l c/audit.log; fi
