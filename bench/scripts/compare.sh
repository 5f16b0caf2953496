#!/usr/bin/env bash
# Side by side: moto (moto_server, AWS KMS API over HTTP, driven with boto3) and our kms-server (gRPC,
# driven with kms-bench), same workload: create a key; GenerateDataKey AES_256 with an encryption
# context; Decrypt with that context; at 1 and at 64 requests in flight. Prints a table with ratios.
#
# Not part of the test suite. Needs python3 (venv) and PyPI for moto[server] and boto3, which it
# installs into bench/.venv (override with VENV=...). Both servers run on loopback with their default
# logging (to a file); every server this script starts is stopped by its own PID on exit.
#
#   bench/scripts/compare.sh                 # 10 s per measurement
#   DURATION=3 bench/scripts/compare.sh      # quicker
#   KEEP=1 bench/scripts/compare.sh          # keep the raw JSON lines in bench/results/
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/bench/.venv}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-1}"
LEVELS="${LEVELS:-1 64}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "${KEEP:-}" ]]; then
        mkdir -p "$ROOT/bench/results"
        cp "$WORK"/*.jsonl "$ROOT/bench/results/" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=lib.sh
source "$ROOT/bench/scripts/lib.sh"

echo "== setting up the virtualenv ($VENV)" >&2
if [[ ! -x "$VENV/bin/moto_server" ]] || ! "$VENV/bin/python" -c 'import boto3' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' boto3
fi
MOTO_VERSION="$("$VENV/bin/python" -c 'import moto; print(moto.__version__)')"
BOTO_VERSION="$("$VENV/bin/python" -c 'import boto3; print(boto3.__version__)')"

echo "== building kms-server and kms-bench (release)" >&2
(cd "$ROOT" && cargo build --release --quiet -p kms-server -p kms-bench)
KMS_SERVER="$TARGET_DIR/release/kms-server"
KMS_BENCH="$TARGET_DIR/release/kms-bench"

MOTO_PORT="$(free_port)"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=("$!")
KMS_PORT="$(free_port)"
"$KMS_SERVER" --listen "127.0.0.1:$KMS_PORT" --data-dir "$WORK/kms-data" >"$WORK/kms.log" 2>&1 &
PIDS+=("$!")
wait_for_port 127.0.0.1 "$MOTO_PORT" moto_server
wait_for_port 127.0.0.1 "$KMS_PORT" kms-server

for n in $LEVELS; do
    echo "== moto_server $MOTO_VERSION (boto3 $BOTO_VERSION), $n in flight" >&2
    "$VENV/bin/python" "$ROOT/bench/scripts/compare.py" load --endpoint "http://127.0.0.1:$MOTO_PORT" \
        --concurrency "$n" --duration "$DURATION" --warmup "$WARMUP" >>"$WORK/peer.jsonl"
    echo "== kms-server, $n in flight" >&2
    "$KMS_BENCH" --endpoint "http://127.0.0.1:$KMS_PORT" --op generate-data-key,decrypt \
        --concurrency "$n" --duration "$DURATION" --warmup "$WARMUP" --json >>"$WORK/ours.jsonl"
    if [[ "$n" == 1 ]]; then
        "$KMS_BENCH" --endpoint "http://127.0.0.1:$KMS_PORT" --op create-key --concurrency 1 \
            --count 20 --json >>"$WORK/ours.jsonl"
    fi
done

echo
echo "moto $MOTO_VERSION via boto3 $BOTO_VERSION (HTTP/1.1 JSON, one client per thread) vs kms-server via kms-bench (gRPC, 1 HTTP/2 connection)"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), ${DURATION}s per cell after ${WARMUP}s warm-up"
python3 "$ROOT/bench/scripts/compare.py" table "$WORK/peer.jsonl" "$WORK/ours.jsonl"
