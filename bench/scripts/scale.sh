#!/usr/bin/env bash
# Memory and scale of kms-server (release build, default settings, logging to a file):
#   - resident memory idle, with 10k keys, and under 64-in-flight GenerateDataKey load;
#   - CreateKey throughput while filling to 100, 10k and 100k keys;
#   - DescribeKey and ListKeys (first page of 100) latency, 1 in flight, at each of those sizes;
#   - startup time (process start to accepting connections) with 100k keys, and its memory then.
#
# Not part of the test suite. Every server it starts is stopped by its own PID on exit.
#
#   bench/scripts/scale.sh                      # levels 100 10000 100000
#   LEVELS="100 1000" bench/scripts/scale.sh    # quicker
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LEVELS="${LEVELS:-100 10000 100000}"
FILL_CONCURRENCY="${FILL_CONCURRENCY:-16}"
LATENCY_SECS="${LATENCY_SECS:-3}"
LOAD_SECS="${LOAD_SECS:-10}"
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
SAMPLER_PID=""
cleanup() {
    if [[ -n "$SAMPLER_PID" ]]; then
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
    fi
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$ROOT" && cargo build --release --quiet -p kms-server -p kms-bench)
KMS_SERVER="$TARGET_DIR/release/kms-server"
KMS_BENCH="$TARGET_DIR/release/kms-bench"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ENDPOINT="http://127.0.0.1:$PORT"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

# Starts the server on $WORK/data (in this shell, so SERVER_PID stays known); sets STARTUP_SECS to
# the time from exec to the first accepted connection.
STARTUP_SECS=""
start_server() {
    local t0 t1
    t0="$(date +%s.%N)"
    "$KMS_SERVER" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >>"$WORK/server.log" 2>&1 &
    SERVER_PID="$!"
    # bash's /dev/tcp: no process per probe, so the probe costs well under a millisecond.
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "error: kms-server exited; see its log:" >&2; tail "$WORK/server.log" >&2; exit 1; }
        sleep 0.005
    done
    t1="$(date +%s.%N)"
    STARTUP_SECS="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
}

# kms-bench --json, one report; prints "field1 field2 ..." picked with a Python expression.
bench() { # python-expr args...
    local expr="$1"
    shift
    "$KMS_BENCH" --endpoint "$ENDPOINT" --json "$@" | tee -a "$WORK/reports.jsonl" |
        python3 -c "import json,sys; r=json.loads(sys.stdin.readline()); l=r['latency_us']; print($expr)"
}

echo "kms-server scale run: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ)"
start_server
sleep 1
echo "idle RSS (2 service keys): $(mib "$(rss_kib)")"

keys=0
printf '%-8s %-22s %-26s %-26s %s\n' "keys" "CreateKey fill" "DescribeKey p50/p99 us" "ListKeys p50/p99 us" "RSS"
for level in $LEVELS; do
    n=$((level - keys))
    fill="$(bench '"%.0f/s (c=%d)" % (r["calls_per_sec"], r["concurrency"]) + (" ERR %d" % r["errors"] if r["errors"] else "")' \
        --op create-key --count "$n" --concurrency "$FILL_CONCURRENCY")"
    keys=$level
    describe="$(bench '"%.0f / %.0f" % (l["p50"], l["p99"]) + (" ERR" if r["errors"] else "")' \
        --op describe-key --concurrency 1 --duration "$LATENCY_SECS" --warmup 0.5)"
    list="$(bench '"%.0f / %.0f" % (l["p50"], l["p99"]) + (" ERR" if r["errors"] else "")' \
        --op list-keys --concurrency 1 --duration "$LATENCY_SECS" --warmup 0.5)"
    printf '%-8s %-22s %-26s %-26s %s\n' "$level" "$fill" "$describe" "$list" "$(mib "$(rss_kib)")"

    if [[ "$level" == 10000 ]]; then
        # RSS under load: sample while 64 GenerateDataKey calls are in flight.
        : >"$WORK/rss.txt"
        (while true; do rss_kib >>"$WORK/rss.txt"; sleep 0.2; done) &
        SAMPLER_PID="$!"
        load="$(bench '"%.0f ops/s, p99 %.0f us, errors %d" % (r["calls_per_sec"], l["p99"], r["errors"])' \
            --op generate-data-key --concurrency 64 --duration "$LOAD_SECS" --warmup 1)"
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
        peak="$(sort -n "$WORK/rss.txt" | tail -1)"
        echo "   under 64-in-flight GenerateDataKey load at 10k keys ($load): peak RSS $(mib "$peak"), after: $(mib "$(rss_kib)")"
    fi
done

stop_server
start_server
sleep 0.5
echo "restart with $keys keys (+ bench keys): accepting connections after ${STARTUP_SECS}s; RSS then $(mib "$(rss_kib)")"
health="$(bench '"p50 %.0f us" % l["p50"]' --op health --concurrency 1 --count 1)"
echo "   first call after restart (new connection): health $health"
