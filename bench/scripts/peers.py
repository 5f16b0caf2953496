#!/usr/bin/env python3
"""Helpers of bench/scripts/peers.sh (not part of the test suite); standard library only.

  peers.py probe-sse NAME=HOST:PORT ...
      What each S3 peer does with `x-amz-server-side-encryption: AES256` on a PUT: the status, and
      whether the PUT's answer and a later HEAD echo the header. Prints JSON.

  peers.py merge --objects O.json --kms K.jsonl --sse-probe P.json --out OUT.json [...]
      One JSON report: the object-store report of `cos-gateway-bench peers` as is, the KMS lines
      with their ratios (kms-server / moto calls per second) taken round by round, the probe, the
      load averages, the versions and the command.

  peers.py table OUT.json
      The Markdown tables of BENCHMARKS.md: ratios (median, min-max) and the absolute medians.
"""

import argparse
import http.client
import json
import statistics
import sys
import time

BUCKET = "benchbucket"
SSE = "x-amz-server-side-encryption"


def probe_sse(args):
    out = {}
    for spec in args.peers:
        name, addr = spec.split("=", 1)
        host, port = addr.rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=10)

        def call(method, path, headers=None):
            c.request(method, path, body=b"x" if method == "PUT" and path.count("/") > 1 else None,
                      headers=headers or {})
            r = c.getresponse()
            r.read()
            return r.status, r.getheader(SSE)

        call("PUT", f"/{BUCKET}", {"x-amz-acl": "public-read-write"})  # as cos-gateway-bench does
        put_status, put_echo = call("PUT", f"/{BUCKET}/sse-probe", {SSE: "AES256"})
        head_status, head_echo = call("HEAD", f"/{BUCKET}/sse-probe")
        out[name] = {
            "put_status": put_status,
            "put_echoes_header": put_echo,
            "head_status": head_status,
            "head_echoes_header": head_echo,
        }
    print(json.dumps(out, indent=2))


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def kms_ratios(lines):
    """kms-server / moto calls per second, per (op, in flight), taken round by round."""
    by = {}
    for r in lines:
        by[(r["op"], r["concurrency"], r["round"], r["target"])] = r
    shapes = sorted({(op, n) for op, n, _, _ in by}, key=lambda s: (s[1], s[0]))
    out = []
    for op, n in shapes:
        per_round, ours, peer, errors = [], [], [], [0, 0]
        for rnd in sorted({k[2] for k in by}):
            o, p = by.get((op, n, rnd, "kms-server")), by.get((op, n, rnd, "moto"))
            if o is None or p is None:
                continue
            ours.append(o["calls_per_sec"])
            peer.append(p["calls_per_sec"])
            errors[0] += o["errors"]
            errors[1] += p["errors"]
            if p["calls_per_sec"] > 0:
                per_round.append(o["calls_per_sec"] / p["calls_per_sec"])
        if per_round:
            out.append({
                "op": op,
                "in_flight": n,
                "ours_ops_per_s": spread(ours),
                "moto_ops_per_s": spread(peer),
                "ratio": spread(per_round),
                "errors_ours": errors[0],
                "errors_moto": errors[1],
            })
    return out


def merge(args):
    with open(args.objects) as f:
        objects = json.load(f)
    with open(args.kms) as f:
        kms = [json.loads(line) for line in f if line.strip()]
    with open(args.sse_probe) as f:
        probe = json.load(f)
    report = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime(objects["started_unix"])),
        "finished_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "command": args.command,
        "machine": machine(),
        "loadavg_start": args.load_start,
        "loadavg_end": args.load_end,
        "versions": dict(v.split("=", 1) for v in args.versions),
        "sse_probe": probe,
        "localstack": args.localstack,
        "objects": objects,
        "kms": {"ratios": kms_ratios(kms), "samples": kms},
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    import os

    return {"cores": os.cpu_count(), "cpu": cpu}


def size(n):
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} B"


def table(args):
    with open(args.report) as f:
        rep = json.load(f)
    obj = rep["objects"]
    loads = [x for x in obj["loadavg_per_round"] if x is not None]
    print(f"{rep['date_utc']}-{rep['finished_utc'][11:]} UTC, `{rep['command']}`, "
          f"{rep['machine']['cores']} cores ({rep['machine']['cpu']}), load average "
          f"{rep['loadavg_start']} at the start, {rep['loadavg_end']} at the end, "
          f"{min(loads):.2f}-{max(loads):.2f} at the rounds' starts; versions "
          + ", ".join(f"{k} {v}" for k, v in rep["versions"].items()) + ".")
    print()
    print("| op | size | in flight | gateway mode | peer/mode | gateway / peer (median) | min-max over rounds |")
    print("|---|---|---|---|---|---|---|")
    for r in obj["ratios"]:
        print(f"| {r['op']} | {size(r['bytes'])} | {r['in_flight']} | {r['ours'].split('/', 1)[1]} "
              f"| {r['peer']} | **{r['ratio']['median']:.2f}x** | {r['ratio']['min']:.2f}-{r['ratio']['max']:.2f}x |")
    print()
    cols = []
    for t in obj["targets"]:
        cols += [f"{t['name']}/{m}" for m in t["modes"]]
    cells, shapes = {}, []
    for x in obj["summary"]:
        shape = (x["op"], x["bytes"], x["in_flight"], x["unit"])
        if shape not in shapes:
            shapes.append(shape)
        cells[shape + (f"{x['target']}/{x['mode']}",)] = x
    print("Medians over the rounds (errors, if any, in brackets):")
    print()
    print("| op | size | in flight | unit | " + " | ".join(cols) + " |")
    print("|---|---|---|---|" + "---|" * len(cols))
    for shape in shapes:
        row = []
        for c in cols:
            x = cells.get(shape + (c,))
            row.append("" if x is None else f"{x['value']['median']:.0f}"
                       + (f" ({x['errors']})" if x["errors"] else ""))
        print(f"| {shape[0]} | {size(shape[1])} | {shape[2]} | {shape[3]} | " + " | ".join(row) + " |")
    print()
    print("| KMS op | in flight | kms-server ops/s | moto ops/s | kms-server / moto (median) | min-max | errors ours/moto |")
    print("|---|---|---|---|---|---|---|")
    for r in rep["kms"]["ratios"]:
        print(f"| {r['op']} | {r['in_flight']} | {r['ours_ops_per_s']['median']:.0f} "
              f"| {r['moto_ops_per_s']['median']:.0f} | **{r['ratio']['median']:.0f}x** "
              f"| {r['ratio']['min']:.0f}-{r['ratio']['max']:.0f}x | {r['errors_ours']}/{r['errors_moto']} |")
    reconnects = {}
    for s in obj["samples"]:
        reconnects[s["target"]] = reconnects.get(s["target"], 0) + s["reconnects"]
    print()
    print("Reconnections (a server closed a keep-alive connection): "
          + ", ".join(f"{k} {v}" for k, v in reconnects.items()) + ".")
    print(f"SSE probe: {json.dumps(rep['sse_probe'])}")
    print(f"LocalStack: {rep['localstack']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe-sse")
    p.add_argument("peers", nargs="+")
    m = sub.add_parser("merge")
    m.add_argument("--objects", required=True)
    m.add_argument("--kms", required=True)
    m.add_argument("--sse-probe", required=True)
    m.add_argument("--localstack", required=True)
    m.add_argument("--load-start", required=True)
    m.add_argument("--load-end", required=True)
    m.add_argument("--versions", nargs="*", default=[])
    m.add_argument("--command", required=True)
    m.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("report")
    args = ap.parse_args()
    {"probe-sse": probe_sse, "merge": merge, "table": table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
