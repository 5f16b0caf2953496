#!/usr/bin/env python3
"""Charts of the peer comparison (issue 15) from the JSON that bench/scripts/peers.sh writes.

  bench/.venv/bin/python bench/scripts/charts.py bench/results/peers-<stamp>.json [--out bench/charts]

Writes two PNGs that BENCHMARKS.md embeds:
  peers-objects.png  gateway / peer throughput per op, size and in-flight level, one panel per peer,
                     median bar and min-max whisker over the interleaved rounds, log scale (1x = even);
  peers-kms.png      KMS operations per second, kms-server next to moto, log scale, ratio on top.
Not part of the test suite; needs matplotlib (peers.sh installs it into bench/.venv).
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

OURS = "#1f6feb"
PEER = "#9a9a9a"
MODE_COLOURS = {"plain": "#1f6feb", "AES256": "#2da44e", "cos/kms": "#bf8700"}


def size(n):
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} B"


def subtitle(rep):
    return (f"{rep['date_utc']} UTC, {rep['machine']['cores']} cores shared with other builds, load average "
            f"{rep['loadavg_start'].split()[0]} -> {rep['loadavg_end'].split()[0]}; "
            f"median of {rep['objects']['rounds']} interleaved rounds, whiskers min-max")


def objects_chart(rep, path):
    ratios = rep["objects"]["ratios"]
    peers = []
    for r in ratios:
        name = r["peer"].split("/", 1)[0]
        if name not in peers:
            peers.append(name)
    fig, axes = plt.subplots(1, len(peers), figsize=(7.5 * len(peers), 6.5), squeeze=False)
    for ax, peer in zip(axes[0], peers):
        rows = [r for r in ratios if r["peer"].split("/", 1)[0] == peer]
        labels, med, lo, hi, colours = [], [], [], [], []
        for r in rows:
            mode = r["ours"].split("/", 1)[1]
            labels.append(f"{r['op']} {size(r['bytes'])} x{r['in_flight']}  {mode} vs {r['peer'].split('/', 1)[1]}")
            m = r["ratio"]
            med.append(m["median"])
            lo.append(m["median"] - m["min"])
            hi.append(m["max"] - m["median"])
            colours.append(MODE_COLOURS.get(mode, OURS))
        y = list(range(len(rows)))
        ax.barh(y, med, xerr=[lo, hi], color=colours, capsize=3)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"cos-gateway / {peer}")
        ax.set_xlabel("throughput ratio (> 1: the gateway is faster)")
        for yi, r in zip(y, rows):
            ax.annotate(f"{r['ratio']['median']:.2f}x", (r["ratio"]["max"], yi), xytext=(4, -3),
                        textcoords="offset points", fontsize=7)
    fig.suptitle("Object stores, same client: gateway throughput relative to each peer\n" + subtitle(rep),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def kms_chart(rep, path):
    rows = rep["kms"]["ratios"]
    fig, ax = plt.subplots(figsize=(11.5, 5))
    x = range(len(rows))
    width = 0.38
    ours = [r["ours_ops_per_s"]["median"] for r in rows]
    moto = [r["moto_ops_per_s"]["median"] for r in rows]
    def whiskers(key, med):
        return [[m - r[key]["min"] for m, r in zip(med, rows)], [r[key]["max"] - m for m, r in zip(med, rows)]]

    ax.bar([i - width / 2 for i in x], ours, width, yerr=whiskers("ours_ops_per_s", ours), capsize=3,
           label="kms-server (gRPC, kms-bench)", color=OURS)
    ax.bar([i + width / 2 for i in x], moto, width, yerr=whiskers("moto_ops_per_s", moto), capsize=3,
           label="moto KMS (HTTP JSON, boto3)", color=PEER)
    ax.set_yscale("log")
    ax.set_xticks(list(x), [f"{r['op']}\n{r['in_flight']} in flight" for r in rows], fontsize=8)
    ax.set_ylabel("operations per second (median)")
    for i, r in zip(x, rows):
        ax.annotate(f"{r['ratio']['median']:.0f}x", (i - width / 2, r["ours_ops_per_s"]["max"]), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=8)
    ax.set_ylim(top=max(r["ours_ops_per_s"]["max"] for r in rows) * 6)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("KMS: kms-server vs moto, ratio = kms-server / moto (median of the per-round ratios)\n" + subtitle(rep), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "charts"))
    args = ap.parse_args()
    with open(args.report) as f:
        rep = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    objects_chart(rep, os.path.join(args.out, "peers-objects.png"))
    kms_chart(rep, os.path.join(args.out, "peers-kms.png"))
    print(f"wrote {args.out}/peers-objects.png and peers-kms.png")


if __name__ == "__main__":
    sys.exit(main())
