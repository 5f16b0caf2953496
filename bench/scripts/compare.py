#!/usr/bin/env python3
"""Side-by-side helpers for bench/scripts/compare.sh (not part of the test suite).

  compare.py load --endpoint URL --concurrency N --duration S [--warmup S]
      The peer's workload over its AWS-compatible API with boto3: CreateKey once, then
      GenerateDataKey (AES_256, with an encryption context) and Decrypt (same context), each with N
      requests in flight (N threads, one boto3 client each). Prints one JSON object per operation,
      with the same fields kms-bench --json prints.

  compare.py table PEER.jsonl OURS.jsonl
      Prints the comparison table with ratios (ours / peer).
"""

import argparse
import json
import sys
import threading
import time

# Same pairs as kms-bench's default context (bucket and object of a typical COS request).
CONTEXT = {"bucket": "examplebucket-1250000000", "object": "photos/2026/cat.jpg"}


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # No retries: every failure is counted, as kms-bench does.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=4),
    )


def measure(name, make_call, clients, warmup, duration):
    """Runs make_call(client) on every client's thread; returns a kms-bench-like report."""
    start = time.perf_counter()
    measure_from = start + warmup
    until = measure_from + duration
    lat = [[] for _ in clients]
    errors = [0 for _ in clients]
    first_error = [None]

    def work(i):
        c = clients[i]
        call = make_call(c)
        while True:
            t0 = time.perf_counter()
            if t0 >= until:
                return
            try:
                call()
                ok = True
            except Exception as e:  # noqa: BLE001 - every failure is counted
                ok = False
                if first_error[0] is None:
                    first_error[0] = f"{type(e).__name__}: {e}"
            t1 = time.perf_counter()
            if t0 >= measure_from:
                lat[i].append((t1 - t0) * 1e6)
                if not ok:
                    errors[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_lat = sorted(x for l in lat for x in l)
    calls = len(all_lat)
    errs = sum(errors)
    return {
        "op": name,
        "concurrency": len(clients),
        "connections": len(clients),
        "batch": 1,
        "seconds": duration,
        "calls": calls,
        "calls_per_sec": calls / duration,
        "items_per_sec": (calls - errs) / duration,
        "errors": errs,
        "first_error": first_error[0],
        "latency_us": {
            "p50": percentile(all_lat, 0.50),
            "p90": percentile(all_lat, 0.90),
            "p99": percentile(all_lat, 0.99),
            "max": all_lat[-1] if all_lat else 0.0,
            "mean": sum(all_lat) / len(all_lat) if all_lat else 0.0,
        },
    }


def load(args):
    clients = [client(args.endpoint) for _ in range(args.concurrency)]
    c0 = clients[0]
    key_id = c0.create_key(Description="compare.py", KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["KeyId"]
    blob = c0.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    # Check the workload is what it claims: the blob opens only with its context.
    assert c0.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["KeyId"].endswith(key_id)

    def gdk(c):
        return lambda: c.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=CONTEXT)

    def dec(c):
        return lambda: c.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)

    reports = [
        measure("generate-data-key", gdk, clients, args.warmup, args.duration),
        measure("decrypt", dec, clients, args.warmup, args.duration),
    ]
    if args.concurrency == 1:
        reports.append(create_keys(c0, 20))
    for r in reports:
        print(json.dumps(r))


def create_keys(c, n):
    """n sequential CreateKey calls, reported like kms-bench --op create-key --count n."""
    lat = []
    began = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        c.create_key(Description="compare.py", KeySpec="SYMMETRIC_DEFAULT")
        lat.append((time.perf_counter() - t0) * 1e6)
    seconds = time.perf_counter() - began
    lat.sort()
    return {
        "op": "create-key",
        "concurrency": 1,
        "connections": 1,
        "batch": 1,
        "seconds": seconds,
        "calls": n,
        "calls_per_sec": n / seconds,
        "items_per_sec": n / seconds,
        "errors": 0,
        "first_error": None,
        "latency_us": {
            "p50": percentile(lat, 0.50),
            "p90": percentile(lat, 0.90),
            "p99": percentile(lat, 0.99),
            "max": lat[-1],
            "mean": sum(lat) / n,
        },
    }


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def table(args):
    peer = {(r["op"], r["concurrency"]): r for r in read_jsonl(args.peer)}
    ours = {(r["op"], r["concurrency"]): r for r in read_jsonl(args.ours)}
    head = (
        f"{'op':<18} {'in flight':>9} {'peer ops/s':>11} {'ours ops/s':>11} {'x ops/s':>8} "
        f"{'peer p50 us':>12} {'ours p50 us':>12} {'x p50':>7} {'peer p99 us':>12} "
        f"{'ours p99 us':>12} {'errors':>9}"
    )
    print(head)
    order = {"generate-data-key": 0, "decrypt": 1, "create-key": 2}
    for key in sorted(peer, key=lambda k: (order.get(k[0], 9), k[1])):
        p, o = peer[key], ours.get(key)
        if o is None:
            continue
        x_ops = o["calls_per_sec"] / p["calls_per_sec"] if p["calls_per_sec"] else float("inf")
        x_p50 = p["latency_us"]["p50"] / o["latency_us"]["p50"] if o["latency_us"]["p50"] else 0
        print(
            f"{key[0]:<18} {key[1]:>9} {p['calls_per_sec']:>11.0f} {o['calls_per_sec']:>11.0f} "
            f"{x_ops:>7.0f}x {p['latency_us']['p50']:>12.0f} {o['latency_us']['p50']:>12.0f} "
            f"{x_p50:>6.0f}x {p['latency_us']['p99']:>12.0f} {o['latency_us']['p99']:>12.0f} "
            f"{str(p['errors']) + '/' + str(o['errors']):>9}"
        )
    print("x ops/s = ours / peer (higher is better for us); x p50 = peer p50 / ours p50;")
    print("errors = peer/ours failed calls in the measured window.")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load")
    lp.add_argument("--endpoint", required=True)
    lp.add_argument("--concurrency", type=int, default=1)
    lp.add_argument("--duration", type=float, default=10.0)
    lp.add_argument("--warmup", type=float, default=1.0)
    tp = sub.add_parser("table")
    tp.add_argument("peer")
    tp.add_argument("ours")
    args = ap.parse_args()
    if args.cmd == "load":
        load(args)
    else:
        table(args)


if __name__ == "__main__":
    sys.exit(main())
