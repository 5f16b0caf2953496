#!/usr/bin/env bash
# Side by side with the peers (issue 15), in one run on this machine, everything on loopback:
#
#   object stores: cos-gateway (binary, embedded KMS) against moto's S3 server (moto[server], PyPI)
#     and s3s-fs (crates.io), all driven by the same client, `cos-gateway-bench peers`: PUT and GET
#     of 4 KiB objects at 1 and 16 in flight and of a 64 MiB object at 1 in flight, in interleaved
#     rounds (gateway, moto, s3s-fs, gateway, ...), ratios round by round.
#       - gateway: COS requests signed with HMAC-SHA1 as the COS SDKs sign them (it refuses unsigned
#         ones); modes plain, AES256 (SSE-COS) and cos/kms (SSE-KMS, embedded KMS).
#       - moto: path-style, unsigned (moto_server never checks S3 signatures, but it refuses an
#         unsigned GET of a private bucket, so the bucket is created public-read-write); modes plain
#         and AES256: moto stores and echoes x-amz-server-side-encryption but does not encrypt.
#         Its server (werkzeug) answers every request with "Connection: close", so the client opens
#         a connection per request to moto (counted as reconnections in the JSON).
#       - s3s-fs: path-style, unsigned (started without --access-key it checks no signature); plain
#         only: it answers 200 to an SSE header but neither applies nor records it (the script probes
#         this and records the answer in the JSON as sse_probe).
#     The unsigned peers are spared the signature check the gateway does; at these sizes that is
#     one HMAC-SHA1 over a few hundred bytes per request.
#   KMS: kms-server (gRPC, driven by kms-bench) against moto's KMS (driven by boto3 through
#     compare.py, as compare.sh does), GenerateDataKey and Decrypt at 1 and 64 in flight and
#     CreateKey at 1, interleaved by round. LocalStack's KMS is not measured: its current release
#     will not start without an account token, and it runs in Docker (see below); the JSON says
#     why it was skipped.
#
# Not part of the test suite. Needs python3, PyPI (moto[server], boto3, matplotlib into bench/.venv,
# override with VENV=...) and crates.io (s3s-fs into bench/.tools, git-ignored). Data of the gateway,
# s3s-fs and moto's spill files go to bench/.peers-data (git-ignored, removed on exit). Every server
# is stopped by its own PID on exit. Writes bench/results/peers-<UTC stamp>.json and prints tables;
# `bench/scripts/charts.py FILE.json` draws the charts from it.
#
#   bench/scripts/peers.sh                       # 5 rounds, 2 s per small cell, 3 s per KMS cell
#   ROUNDS=7 SMALL_SECS=3 bench/scripts/peers.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/bench/.venv}"
TOOLS="$ROOT/bench/.tools"
S3S_FS_VERSION="${S3S_FS_VERSION:-0.14.0}" # the newest that builds with Rust 1.95 (0.15+ want 1.96)
ROUNDS="${ROUNDS:-5}"
SMALL_SECS="${SMALL_SECS:-2}"
IN_FLIGHT="${IN_FLIGHT:-1,16}"
LARGE_MIB="${LARGE_MIB:-64}"
KMS_SECS="${KMS_SECS:-3}"
KMS_LEVELS="${KMS_LEVELS:-1 64}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
STAMP="$(date -u +%Y%m%dT%H%MZ)"
OUT="${OUT:-$ROOT/bench/results/peers-$STAMP.json}"

DATA="$ROOT/bench/.peers-data/$$"
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
    rm -rf "$WORK" "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=lib.sh
source "$ROOT/bench/scripts/lib.sh"

echo "== the virtualenv ($VENV)" >&2
if [[ ! -x "$VENV/bin/moto_server" ]] || ! "$VENV/bin/python" -c 'import boto3, matplotlib' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' boto3 matplotlib
fi
PY="$VENV/bin/python"

echo "== s3s-fs $S3S_FS_VERSION ($TOOLS)" >&2
if [[ ! -x "$TOOLS/bin/s3s-fs" ]]; then
    cargo install "s3s-fs@$S3S_FS_VERSION" --locked --features binary --root "$TOOLS"
fi

echo "== building cos-gateway, kms-server and the load tools (release)" >&2
# Two invocations: cos-gateway-bench turns on storage-adapter's `embedded` feature, so building it
# with the servers would unify features and rebuild them differently from a plain build.
(cd "$ROOT" && cargo build --release --quiet -p cos-gateway -p kms-server -p kms-bench &&
    cargo build --release --quiet -p cos-gateway-bench)

mkdir -p "$DATA/gateway" "$DATA/s3s-fs" "$DATA/moto-tmp" "$DATA/kms" "$(dirname "$OUT")"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

GW_PORT="$(free_port)"
"$TARGET_DIR/release/cos-gateway" --listen "127.0.0.1:$GW_PORT" --data-dir "$DATA/gateway" \
    --secret-id AKIDbench --secret-key bench-secret >"$WORK/gateway.log" 2>&1 &
PIDS+=("$!")
MOTO_PORT="$(free_port)"
# moto keeps objects in memory and spills bodies above 5 MiB - 1 KiB (MOTO_S3_DEFAULT_KEY_BUFFER_SIZE)
# to TMPDIR: the same disk as the others.
TMPDIR="$DATA/moto-tmp" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=("$!")
S3S_PORT="$(free_port)"
"$TOOLS/bin/s3s-fs" --host 127.0.0.1 --port "$S3S_PORT" "$DATA/s3s-fs" >"$WORK/s3s-fs.log" 2>&1 &
PIDS+=("$!")
KMS_PORT="$(free_port)"
"$TARGET_DIR/release/kms-server" --listen "127.0.0.1:$KMS_PORT" --data-dir "$DATA/kms" >"$WORK/kms.log" 2>&1 &
PIDS+=("$!")
wait_for_port 127.0.0.1 "$GW_PORT" cos-gateway
wait_for_port 127.0.0.1 "$MOTO_PORT" moto_server
wait_for_port 127.0.0.1 "$S3S_PORT" s3s-fs
wait_for_port 127.0.0.1 "$KMS_PORT" kms-server

echo "== what the S3 peers do with x-amz-server-side-encryption: AES256" >&2
"$PY" "$ROOT/bench/scripts/peers.py" probe-sse "moto=127.0.0.1:$MOTO_PORT" "s3s-fs=127.0.0.1:$S3S_PORT" \
    >"$WORK/sse-probe.json"
cat "$WORK/sse-probe.json" >&2

echo "== LocalStack" >&2
# Tried on 2026-12-06 with `pip install localstack` (CLI 2026.8.2): `localstack start` stops with
# "LocalStack requires an account to run" unless LOCALSTACK_AUTH_TOKEN is set (the grace-period
# variable LOCALSTACK_ACKNOWLEDGE_ACCOUNT_REQUIREMENT=1 no longer helps), its default mode is a
# Docker container, and the deprecated --host mode needs the runtime in /usr/lib/localstack, which
# the PyPI package does not bring. So it is measured only with a token and a Docker daemon, and
# even then this script does not drive it yet: it says so.
if [[ -z "${LOCALSTACK_AUTH_TOKEN:-}" ]]; then
    LOCALSTACK="skipped: LocalStack refuses to start without an account token (LOCALSTACK_AUTH_TOKEN)"
elif ! docker info >/dev/null 2>&1; then
    LOCALSTACK="skipped: LocalStack runs as a Docker container and no Docker daemon answers here"
else
    LOCALSTACK="skipped: a token and a Docker daemon are here, but this script does not drive LocalStack yet"
fi
echo "$LOCALSTACK" >&2

echo "== object stores: $ROUNDS interleaved rounds" >&2
"$TARGET_DIR/release/cos-gateway-bench" peers \
    --target "gateway=cos,127.0.0.1:$GW_PORT,plain,AES256,cos/kms" \
    --target "moto=s3,127.0.0.1:$MOTO_PORT,plain,AES256" \
    --target "s3s-fs=s3,127.0.0.1:$S3S_PORT,plain" \
    --rounds "$ROUNDS" --small-secs "$SMALL_SECS" --in-flight "$IN_FLIGHT" --large-mib "$LARGE_MIB" \
    --out "$WORK/objects.json"

echo "== KMS: $ROUNDS interleaved rounds" >&2
tag() { # round target: adds both to each JSON line
    "$PY" -c 'import json,sys
for line in sys.stdin:
    if line.strip():
        print(json.dumps({**json.loads(line), "round": int(sys.argv[1]), "target": sys.argv[2]}))' "$1" "$2"
}
for ((r = 0; r < ROUNDS; r++)); do
    for n in $KMS_LEVELS; do
        echo "-- round $((r + 1)), $n in flight (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
        "$PY" "$ROOT/bench/scripts/compare.py" load --endpoint "http://127.0.0.1:$MOTO_PORT" \
            --concurrency "$n" --duration "$KMS_SECS" --warmup 1 | tag "$r" moto >>"$WORK/kms.jsonl"
        "$TARGET_DIR/release/kms-bench" --endpoint "http://127.0.0.1:$KMS_PORT" \
            --op generate-data-key,decrypt --concurrency "$n" --duration "$KMS_SECS" --warmup 1 --json |
            tag "$r" kms-server >>"$WORK/kms.jsonl"
        if [[ "$n" == 1 ]]; then
            "$TARGET_DIR/release/kms-bench" --endpoint "http://127.0.0.1:$KMS_PORT" --op create-key \
                --concurrency 1 --count 20 --json | tag "$r" kms-server >>"$WORK/kms.jsonl"
        fi
    done
done

"$PY" "$ROOT/bench/scripts/peers.py" merge \
    --objects "$WORK/objects.json" --kms "$WORK/kms.jsonl" --sse-probe "$WORK/sse-probe.json" \
    --localstack "$LOCALSTACK" --load-start "$LOAD_START" --load-end "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --versions "moto=$("$PY" -c 'import moto; print(moto.__version__)')" \
    "boto3=$("$PY" -c 'import boto3; print(boto3.__version__)')" "s3s-fs=$S3S_FS_VERSION" \
    "cos-gateway=$(git -C "$ROOT" rev-parse --short HEAD)" \
    --command "ROUNDS=$ROUNDS SMALL_SECS=$SMALL_SECS IN_FLIGHT=$IN_FLIGHT LARGE_MIB=$LARGE_MIB KMS_SECS=$KMS_SECS bench/scripts/peers.sh" \
    --out "$OUT"
"$PY" "$ROOT/bench/scripts/peers.py" table "$OUT"
echo "wrote $OUT" >&2
