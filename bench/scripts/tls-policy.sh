#!/usr/bin/env bash
# Usage: cargo build --release -p kms-server -p kms-bench && bench/scripts/tls-policy.sh
# TLS + token bench: server A = TLS, development mode (no policy, no audit); server B = TLS + policy
# (token) + audit log to a file. Rounds alternate A and B; each round runs health, gdk, decrypt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d); cd "$WORK"; mkdir -p a b
BIN=$ROOT/target/release
TOKEN=bench-token-0123456789abcdef0123456789
printf '%s' "$TOKEN" > tok; chmod 600 tok
D=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
printf 'identities:\n  - name: bench\n    token_sha256: "%s"\n    allow: ["*"]\n' "$D" > policy.yaml; chmod 600 policy.yaml
$BIN/kms-server --listen 127.0.0.1:0 --data-dir a --tls-self-signed 2> a.err &
PA=$!
$BIN/kms-server --listen 127.0.0.1:0 --data-dir b --tls-self-signed --policy policy.yaml --audit-log b/audit.log 2> b.err &
PB=$!
trap 'kill $PA $PB' EXIT
sleep 2
AA=$(grep -o "listening on [0-9.:]*" a.err | head -1 | awk '{print $3}' | sed 's/127.0.0.1/localhost/')
AB=$(grep -o "listening on [0-9.:]*" b.err | head -1 | awk '{print $3}' | sed 's/127.0.0.1/localhost/')
for r in $(seq 1 "${ROUNDS:-5}"); do
  echo "== round $r A (TLS, no policy, no audit)"
  $BIN/kms-bench --endpoint https://$AA --ca-cert a/ca.pem --op health,generate-data-key,decrypt --duration 2 --warmup 0.5 --concurrency 16 --server-pid $PA 2>&1 | grep -E "^ *(op|health|generate-data-key|decrypt)" || true
  echo "== round $r B (TLS, token policy, audit file)"
  $BIN/kms-bench --endpoint https://$AB --ca-cert b/ca.pem --token-file tok --op health,generate-data-key,decrypt --duration 2 --warmup 0.5 --concurrency 16 --server-pid $PB 2>&1 | grep -E "^ *(op|health|generate-data-key|decrypt)" || true
done
wc -l b/audit.log
