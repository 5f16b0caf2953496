#!/usr/bin/env bash
# PostgreSQL replicas against SQLite (issue 14), release build, one run:
#   - health, GenerateDataKey, Decrypt (CONC in flight, 2 s each) on a SQLite server and on each of
#     two replicas on one PostgreSQL, the three servers interleaved, ROUNDS rounds;
#   - CreateKey per second while filling the SQLite server and replica 1 with KEYS keys each;
#   - resident memory of the three servers then (replica 2 holds the keys through resyncs).
# It starts its own PostgreSQL (initdb in a temp dir, as the `postgres` user when run as root) and
# stops everything it started on exit. Not part of the test suite.
#
#   cargo build --release -p kms-server -p kms-bench && bench/scripts/replicas.sh
#   KEYS=100000 ROUNDS=5 bench/scripts/replicas.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/bench/scripts/lib.sh"
SERVER=${SERVER:-$ROOT/target/release/kms-server}
BENCH=${BENCH:-$ROOT/target/release/kms-bench}
ROUNDS=${ROUNDS:-3}
CONC=${CONC:-64}
KEYS=${KEYS:-20000}
PGBIN=${KMS_POSTGRES_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)}

WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

mkdir "$WORK/pg"
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK/pg"; fi
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -U kms --auth=trust -E UTF8 >/dev/null
PGPORT=$(free_port)
as_pg "$PGBIN/postgres" -D "$WORK/pg/data" -p "$PGPORT" -k "$WORK/pg" \
    -c listen_addresses=127.0.0.1 -c max_connections=200 >"$WORK/pg.log" 2>&1 &
PIDS+=($!)
wait_for_port 127.0.0.1 "$PGPORT" PostgreSQL
for _ in $(seq 1 50); do
    as_pg "$PGBIN/createdb" -h "$WORK/pg" -p "$PGPORT" -U kms kms 2>/dev/null && break
    sleep 0.2
done
DB="postgres://kms@127.0.0.1:$PGPORT/kms?sslmode=disable"
ROOT_KEY=$(head -c 32 /dev/urandom | base64)

declare -A ADDR PID
start() { # name [--database URL]
    local name=$1 port
    shift
    port=$(free_port)
    KMS_ROOT_KEY=$ROOT_KEY "$SERVER" --listen "127.0.0.1:$port" --data-dir "$WORK/$name" "$@" \
        2>"$WORK/$name.err" &
    PID[$name]=$!
    PIDS+=($!)
    ADDR[$name]="http://127.0.0.1:$port"
    wait_for_port 127.0.0.1 "$port" "kms-server $name"
}
start sqlite
start replica1 --database "$DB"
start replica2 --database "$DB"

for r in $(seq 1 "$ROUNDS"); do
    for s in sqlite replica1 replica2; do
        echo "== round $r $s"
        "$BENCH" --endpoint "${ADDR[$s]}" --op health,generate-data-key,decrypt --duration 2 \
            --warmup 0.5 --concurrency "$CONC" --server-pid "${PID[$s]}" 2>&1 |
            grep -E "^ *(op|health|generate-data-key|decrypt)" || true
    done
done

for s in sqlite replica1; do
    echo "== create-key $s: $KEYS keys, 16 in flight"
    "$BENCH" --endpoint "${ADDR[$s]}" --op create-key --count "$KEYS" --concurrency 16 2>&1 |
        grep -E "^ *(op|create-key)" || true
done
sleep 5
for s in sqlite replica1 replica2; do
    echo "== memory $s: $(awk '/^VmRSS:/ {printf "%.1f MiB", $2 / 1024}' "/proc/${PID[$s]}/status")"
done
