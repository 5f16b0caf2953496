#!/usr/bin/env bash
# PostgreSQL replicas against SQLite (issue 14), release build, one run:
#   - health, GenerateDataKey, Decrypt (CONC in flight, 2 s each) on a SQLite server and on each of
#     two replicas on one PostgreSQL, the three servers interleaved, ROUNDS rounds (THROUGHPUT=0
#     skips them);
#   - propagation lag, LAG_ROUNDS rounds: kms-propagation makes LAG_CHANGES/4 x (create, disable,
#     enable, rotate) on replica 1 and times each until replica 2 shows it, first with the servers
#     idle, then while kms-bench runs GenerateDataKey (CONC in flight) on replica 1 and Decrypt
#     (CONC in flight) on replica 2; the load's calls/s are printed with it;
#   - CreateKey per second while filling the SQLite server and replica 1 with KEYS keys each;
#   - resident memory (VmRSS) of the three servers at start, after the fill (replica 2 holds the
#     keys through per-key reloads), and of the SQLite server and replica 2 restarted on them
#     (every key loaded at start, the normal way), with how long that start took.
# It starts its own PostgreSQL (initdb in a temp dir, as the `postgres` user when run as root) and
# stops everything it started on exit. Not part of the test suite.
#
#   cargo build --release -p kms-server -p kms-bench && bench/scripts/replicas.sh
#   KEYS=100000 ROUNDS=5 bench/scripts/replicas.sh
#   THROUGHPUT=0 LAG_ROUNDS=5 KEYS=100000 bench/scripts/replicas.sh
#   THROUGHPUT=0 LAG_ROUNDS=3 KEYS=20000 REPLICA_ARGS="--tick-secs 3600" bench/scripts/replicas.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/bench/scripts/lib.sh"
SERVER=${SERVER:-$ROOT/target/release/kms-server}
BENCH=${BENCH:-$ROOT/target/release/kms-bench}
PROPAGATION=${PROPAGATION:-$ROOT/target/release/kms-propagation}
ROUNDS=${ROUNDS:-3}
THROUGHPUT=${THROUGHPUT:-1}
LAG_ROUNDS=${LAG_ROUNDS:-3}
LAG_CHANGES=${LAG_CHANGES:-100}
# More kms-server flags for the two replicas, e.g. REPLICA_ARGS="--tick-secs 3600".
REPLICA_ARGS=${REPLICA_ARGS:-}
CONC=${CONC:-64}
KEYS=${KEYS:-20000}
PGBIN=${KMS_POSTGRES_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -1)}
PGBIN=${PGBIN:-$(dirname "$(command -v initdb)")}

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

declare -A ADDR PID ARGS
start() { # name [--database URL]
    local name=$1 port
    shift
    ARGS[$name]="$*"
    port=$(free_port)
    KMS_ROOT_KEY=$ROOT_KEY "$SERVER" --listen "127.0.0.1:$port" --data-dir "$WORK/$name" "$@" \
        2>>"$WORK/$name.err" &
    PID[$name]=$!
    PIDS+=($!)
    ADDR[$name]="http://127.0.0.1:$port"
    wait_for_port 127.0.0.1 "$port" "kms-server $name"
}
rss() { awk '/^VmRSS:/ {printf "%.1f MiB", $2 / 1024}' "/proc/${PID[$1]}/status"; }
# Stops NAME and starts it again on the same data (a fresh process that loads every key at start).
restart() { # name
    local name=$1 t0 t1
    kill "${PID[$name]}"
    wait "${PID[$name]}" 2>/dev/null || true
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086 # ARGS holds the flags as words
    start "$name" ${ARGS[$name]}
    t1=$(date +%s.%N)
    echo "== restarted $name: listening after $(echo "$t1 - $t0" | bc) s"
}
start sqlite
# shellcheck disable=SC2086 # REPLICA_ARGS holds flags as words
start replica1 --database "$DB" $REPLICA_ARGS
# shellcheck disable=SC2086
start replica2 --database "$DB" $REPLICA_ARGS
sleep 2
for s in sqlite replica1 replica2; do echo "== memory at start $s: $(rss $s)"; done

[ "$THROUGHPUT" = 0 ] || for r in $(seq 1 "$ROUNDS"); do
    for s in sqlite replica1 replica2; do
        echo "== round $r $s"
        "$BENCH" --endpoint "${ADDR[$s]}" --op health,generate-data-key,decrypt --duration 2 \
            --warmup 0.5 --concurrency "$CONC" --server-pid "${PID[$s]}" 2>&1 |
            grep -E "^ *(op|health|generate-data-key|decrypt)" || true
    done
done

for r in $(seq 1 "$LAG_ROUNDS"); do
    echo "== propagation round $r, idle: $("$PROPAGATION" --leader "${ADDR[replica1]}" \
        --follower "${ADDR[replica2]}" --rounds $((LAG_CHANGES / 4)))"
    # The load runs longer than the changes take; the changes start after its warm-up.
    "$BENCH" --endpoint "${ADDR[replica1]}" --op generate-data-key --duration 30 --warmup 1 \
        --concurrency "$CONC" >"$WORK/load1" 2>&1 &
    L1=$!
    "$BENCH" --endpoint "${ADDR[replica2]}" --op decrypt --duration 30 --warmup 1 \
        --concurrency "$CONC" >"$WORK/load2" 2>&1 &
    L2=$!
    sleep 2
    echo "== propagation round $r, under load: $("$PROPAGATION" --leader "${ADDR[replica1]}" \
        --follower "${ADDR[replica2]}" --rounds $((LAG_CHANGES / 4)))"
    wait "$L1" "$L2"
    grep -hE "^ *(op|generate-data-key|decrypt)" "$WORK/load1" "$WORK/load2" || true
done

for s in sqlite replica1; do
    echo "== create-key $s: $KEYS keys, 16 in flight"
    "$BENCH" --endpoint "${ADDR[$s]}" --op create-key --count "$KEYS" --concurrency 16 2>&1 |
        grep -E "^ *(op|create-key)" || true
done
sleep 5
for s in sqlite replica1 replica2; do echo "== memory after the fill $s: $(rss $s)"; done
for s in sqlite replica2; do
    restart "$s"
    sleep 5
    echo "== memory restarted $s (keys loaded at start): $(rss $s)"
done
