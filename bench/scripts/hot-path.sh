#!/usr/bin/env bash
# The hot-path figures of bench/BENCHMARKS.md: health vs GenerateDataKey/Decrypt/Encrypt at 64 and 1 in
# flight, batches of 1000 at 64 in flight; against the embedded server (no request log), and against
# the kms-server binary with its default one-line-per-request log (to a file) and with that line
# filtered out. Operations are interleaved over several rounds and each is reported by its median
# round, which steadies the figures on a machine shared with other work.
#
# Not part of the test suite. The server it starts is stopped by its own PID on exit.
#
#   bench/scripts/hot-path.sh                     # 3 s per measurement, 5 rounds
#   DURATION=10 ROUNDS=3 bench/scripts/hot-path.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION="${DURATION:-3}"
ROUNDS="${ROUNDS:-5}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

WORK="$(mktemp -d)"
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

(cd "$ROOT" && cargo build --release --quiet -p kms-server -p kms-bench)
KMS_SERVER="$TARGET_DIR/release/kms-server"
KMS_BENCH="$TARGET_DIR/release/kms-bench"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

start_server() { # RUST_LOG value
    rm -rf "$WORK/data"
    RUST_LOG="$1" "$KMS_SERVER" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
    SERVER_PID="$!"
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.01; done
}

run() { # title, kms-bench args...
    echo
    echo "### $1"
    shift
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "\$ kms-bench $*"
    "$KMS_BENCH" "$@" --duration "$DURATION" --warmup 0.5 --rounds "$ROUNDS"
}

SINGLE=health,generate-data-key,decrypt,encrypt
echo "hot path: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION}s x ${ROUNDS} rounds"

run "embedded, 64 in flight, 1 connection" --embedded --op "$SINGLE" --concurrency 64
run "embedded, 64 in flight, 4 connections" --embedded --op "$SINGLE" --concurrency 64 --connections 4
run "embedded, 1 in flight" --embedded --op "$SINGLE" --concurrency 1
run "embedded, batches of 1000, 64 in flight" --embedded \
    --op health,batch-generate-data-key,batch-decrypt --batch 1000 --concurrency 64

start_server info
run "kms-server binary, default log (one line per request, to a file), 64 in flight" \
    --endpoint "http://127.0.0.1:$PORT" --op "$SINGLE" --concurrency 64
run "kms-server binary, default log, 1 in flight" \
    --endpoint "http://127.0.0.1:$PORT" --op "$SINGLE" --concurrency 1
echo "request log written: $(wc -l <"$WORK/server.log") lines"
stop_server

start_server "info,kms_server::service=warn"
run "kms-server binary, RUST_LOG=info,kms_server::service=warn, 64 in flight" \
    --endpoint "http://127.0.0.1:$PORT" --op "$SINGLE" --concurrency 64
run "kms-server binary, RUST_LOG=info,kms_server::service=warn, 1 in flight" \
    --endpoint "http://127.0.0.1:$PORT" --op "$SINGLE" --concurrency 1
stop_server
