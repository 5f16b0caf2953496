#!/usr/bin/env bash
# Usage: cargo build --release -p kms-server -p kms-bench (-p kms-client for MTLS=1) && bench/scripts/tls-policy.sh
# TLS + token bench: server A = TLS, development mode (no policy, no audit); server B = TLS + policy
# (token) + audit log to a file. Each round runs health, gdk, decrypt on A and on B, in alternating
# order (or at the same time, PAIRED=1); at the end, per op, B's server CPU per call and calls/s
# over A's (median round, range).
# CONC=N sets the calls in flight (16). C_SERVER=path/to/another/kms-server adds server C, like B but that binary (an older build, to
# compare two versions of the policy and audit path in the same run); B_ARGS and C_ARGS add
# arguments to B and C (for example C_SERVER=target/release/kms-server C_ARGS="--audit-buffer-ms 10").
# MTLS=1: B and C authenticate their client by its certificate (mutual TLS) instead of a token.
# P=1 adds server P: the same policy as B, no audit log (what the policy check costs alone).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d); cd "$WORK"; mkdir -p a b c
BIN=$ROOT/target/release
SERVER=${SERVER:-$BIN/kms-server}
BENCH=${BENCH:-$BIN/kms-bench}
C_SERVER=${C_SERVER:-}
read -r -a B_ARGS <<< "${B_ARGS:-}"
read -r -a C_ARGS <<< "${C_ARGS:-}"
TOKEN=bench-token-0123456789abcdef0123456789
printf '%s' "$TOKEN" > tok; chmod 600 tok
D=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
CREDENTIAL="token_sha256: \"$D\""
CLIENT=(--token-file tok)
MTLS_ARGS=()
if [ -n "${MTLS:-}" ]; then
  # MTLS=1: B and C know their caller by a client certificate instead of a token (openssl makes a
  # throwaway client CA and certificate; kms-admin names the certificate's identity).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=bench-client-ca -keyout client-ca.key -out client-ca.pem 2> /dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench \
    -keyout client.key -out client.csr 2> /dev/null
  printf 'extendedKeyUsage=clientAuth\n' > client.ext
  openssl x509 -req -in client.csr -CA client-ca.pem -CAkey client-ca.key -CAcreateserial \
    -days 1 -extfile client.ext -out client.pem 2> /dev/null
  chmod 600 client.key
  CREDENTIAL=$("${ADMIN:-$BIN/kms-admin}" identity --cert client.pem)
  CLIENT=(--client-cert client.pem --client-key client.key)
  MTLS_ARGS=(--tls-client-ca client-ca.pem)
fi
printf 'identities:\n  - name: bench\n    %s\n    allow: ["*"]\n' "$CREDENTIAL" > policy.yaml; chmod 600 policy.yaml
"$SERVER" --listen 127.0.0.1:0 --data-dir a --tls-self-signed 2> a.err &
PA=$!
"$SERVER" --listen 127.0.0.1:0 --data-dir b --tls-self-signed --policy policy.yaml --audit-log b/audit.log "${MTLS_ARGS[@]}" "${B_ARGS[@]}" 2> b.err &
PB=$!
PIDS="$PA $PB"
if [ -n "$C_SERVER" ]; then
  "$C_SERVER" --listen 127.0.0.1:0 --data-dir c --tls-self-signed --policy policy.yaml --audit-log c/audit.log "${MTLS_ARGS[@]}" "${C_ARGS[@]}" 2> c.err &
  PC=$!
  PIDS="$PIDS $PC"
fi
if [ -n "${P:-}" ]; then
  mkdir -p p
  "$SERVER" --listen 127.0.0.1:0 --data-dir p --tls-self-signed --policy policy.yaml "${MTLS_ARGS[@]}" 2> p.err &
  PP=$!
  PIDS="$PIDS $PP"
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
run_a() { run "A (TLS, no policy, no audit)" a "$PA"; }
run_b() { run "B (TLS, policy, audit file ${B_ARGS[*]})" b "$PB" "${CLIENT[@]}"; }
run_c() { run "C ($C_SERVER ${C_ARGS[*]}: TLS, policy, audit file)" c "$PC" "${CLIENT[@]}"; }
run_p() { run "P (TLS, policy, no audit)" p "$PP" "${CLIENT[@]}"; }
# A then B in odd rounds, B then A in even ones, so neither always runs first. PAIRED=1 runs the
# servers' clients at the same time instead, so each round's ratios see the same moment of a
# shared host (the servers then share its CPUs).
for r in $(seq 1 "${ROUNDS:-5}"); do
  if [ -n "${PAIRED:-}" ]; then
    run_a > "a.$r" & run_b > "b.$r" &
    if [ -n "$C_SERVER" ]; then run_c > "c.$r" & fi
    if [ -n "${P:-}" ]; then run_p > "p.$r" & fi
    wait
    cat "a.$r" "b.$r"
    if [ -n "$C_SERVER" ]; then cat "c.$r"; fi
    if [ -n "${P:-}" ]; then cat "p.$r"; fi
    continue
  fi
  if [ $((r % 2)) = 1 ]; then run_a; run_b; else run_b; run_a; fi
  if [ -n "$C_SERVER" ]; then run_c; fi
  if [ -n "${P:-}" ]; then run_p; fi
done 2>&1 | tee rounds.log
wc -l b/audit.log
if [ -n "$C_SERVER" ]; then wc -l c/audit.log; fi
# Per op: B's (and C's) server CPU per call over A's in the same round, and calls/s over A's; the
# median round and the range.
python3 - rounds.log <<'PY'
import statistics, sys
rows = {}  # (round, server) -> {op: (calls_per_s, server_us_per_op)}
for line in open(sys.argv[1]):
    f = line.split()
    if line.startswith("== round"):
        key = (f[2], f[3])
        rows[key] = {}
    elif f and f[0] in ("health", "generate-data-key", "decrypt"):
        rows[key][f[0]] = (float(f[4]), float(f[-1]))
rounds = sorted({r for r, _ in rows})
for server in sorted({s for _, s in rows} - {"A"}):
    print(f"{server} over A, per round (server CPU per call; calls/s):")
    for op in ("health", "generate-data-key", "decrypt"):
        cpu = [rows[(r, server)][op][1] / rows[(r, "A")][op][1] for r in rounds]
        rate = [rows[(r, server)][op][0] / rows[(r, "A")][op][0] for r in rounds]
        print(f"  {op:18} cpu {statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f})"
              f"  rate {statistics.median(rate):.3f} ({min(rate):.3f}-{max(rate):.3f})")
PY
