#!/usr/bin/env python3
"""Merges the HNSW bench JSONs of one run (elex's and the peers') into a markdown table and a
recall-vs-QPS plot. Usage: report.py OUT_DIR FILE.json... ; writes OUT_DIR/hnsw.md and
OUT_DIR/hnsw-recall-qps.png. The table gives, per engine, the QPS at the first ef whose recall
reaches each target (0.90 and 0.95), the ratio to hnswlib at that target, build time and bytes
per vector, then every ef row."""
import json
import os
import sys


def label(r):
    if r["engine"] == "elex":
        s = f"elex {r['storage']}"
        return s + (" +rerank" if r.get("keep_f32") else "")
    return r["engine"]


def qps_at(r, target):
    """QPS at recall `target`, interpolated linearly between the two ef points around it."""
    runs = sorted(r["runs"], key=lambda x: x["recall"])
    for lo, hi in zip(runs, runs[1:]):
        if lo["recall"] <= target <= hi["recall"]:
            if hi["recall"] == lo["recall"]:
                return hi["qps"]
            t = (target - lo["recall"]) / (hi["recall"] - lo["recall"])
            return lo["qps"] + t * (hi["qps"] - lo["qps"])
    if runs and runs[0]["recall"] >= target:
        return runs[0]["qps"]
    return None


def main():
    out_dir, files = sys.argv[1], sys.argv[2:]
    results = [json.load(open(f)) for f in files if os.path.exists(f)]
    if not results:
        sys.exit("no results")
    base = next((r for r in results if r["engine"] == "hnswlib"), None)
    r0 = results[0]
    lines = [
        f"# HNSW side by side: {r0['n']} x {r0['dims']}, {r0['queries']} queries, k={r0['k']}, M={r0['m']}, efC={r0['ef_construction']}, one thread",
        "",
        "QPS at a recall target is interpolated between the two ef points around it; the ratio is to hnswlib in the same run.",
        "",
        "| engine | build s | bytes/vector | QPS @0.90 | ratio | QPS @0.95 | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cells = [label(r), f"{r['build_seconds']:.1f}", f"{r['bytes_per_vector']:.0f}"]
        for target in (0.90, 0.95):
            q = qps_at(r, target)
            b = qps_at(base, target) if base else None
            cells.append(f"{q:.0f}" if q else "n/a")
            cells.append(f"{q / b:.2f}x" if q and b else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| engine | ef | recall@k | QPS | p50 us | p95 us | p99 us | dist/query |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for x in r["runs"]:
            ev = f"{x['dist_evals']:.0f}" if x.get("dist_evals") else ""
            lines.append(f"| {label(r)} | {x['ef']} | {x['recall']:.4f} | {x['qps']:.0f} | {x['p50_us']:.1f} | {x['p95_us']:.1f} | {x['p99_us']:.1f} | {ev} |")
    lines.append("")
    lines.append("Peer p50/p95/p99 come from single-query Python calls and include the call overhead; peer QPS is one batched call on one thread. elex numbers are single queries from the Rust bench binary.")
    md = "\n".join(lines) + "\n"
    open(os.path.join(out_dir, "hnsw.md"), "w").write(md)
    print(md)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5.5))
        for r in results:
            xs = [x["recall"] for x in r["runs"]]
            ys = [x["qps"] for x in r["runs"]]
            ax.plot(xs, ys, marker="o", label=label(r))
        ax.set_yscale("log")
        ax.set_xlabel("recall@%d" % r0["k"])
        ax.set_ylabel("queries per second (one thread, log)")
        ax.set_title(f"HNSW on {r0['n']} x {r0['dims']} (M={r0['m']}, efC={r0['ef_construction']})")
        ax.axvline(0.95, color="grey", lw=0.8, ls="--")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = os.path.join(out_dir, "hnsw-recall-qps.png")
        fig.savefig(path, dpi=110)
        print("plot:", path)
    except ImportError:
        print("matplotlib missing: no plot")


if __name__ == "__main__":
    main()
