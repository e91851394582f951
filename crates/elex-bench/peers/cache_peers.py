#!/usr/bin/env python3
"""The cache suite: elex's policies beside libcachesim's on the cache-traces workloads.

Usage: cache_peers.py --traces DIR --bench target/release/elex-bench --out-dir bench-results

For each trace in DIR/traces.json and each capacity there (1% and 10% of the distinct objects),
runs `elex-bench cache` (tinylfu, s3fifo, lru) and libcachesim's W-TinyLFU, S3-FIFO, ARC, LIRS,
SIEVE and LRU on the same file, and reports object miss ratios and the gap share
(miss - OPT) / (LRU - OPT) with OPT and LRU from traces.json. Traces without OPT (mixed-size)
are replayed with byte budgets of 1% and 10% of their footprint and report byte miss ratios.
Writes cache.json and cache.md.
"""
import argparse, json, os, subprocess, time

import libcachesim as lcs

PEERS = [("W-TinyLFU", lcs.WTinyLFU), ("S3-FIFO", lcs.S3FIFO), ("ARC", lcs.ARC),
         ("LIRS", lcs.LIRS), ("SIEVE", lcs.Sieve), ("LRU", lcs.LRU)]
ELEX = ["tinylfu", "s3fifo", "lru"]


def elex(bench, trace, flag, cap):
    out = "/tmp/elex-cache-run.json"
    subprocess.run([bench, "cache", "--trace", trace, flag, str(cap), "--policy", ",".join(ELEX),
                    "--json", out], check=True, capture_output=True)
    d = json.load(open(out))
    return {f"elex-{r['policy']}": (r["object_miss_ratio"], r["byte_miss_ratio"]) for r in d["runs"]}


def peers(trace, cap, bytes_mode):
    res = {}
    for name, cls in PEERS:
        p = lcs.ReaderInitParam(binary_fmt_str="<QI", ignore_obj_size=not bytes_mode)
        p.obj_id_field, p.obj_size_field = 1, 2
        reader = lcs.TraceReader(trace, lcs.TraceType.BIN_TRACE, p)
        obj, byt = cls(cap).process_trace(reader)
        res[name] = (obj, byt)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--out-dir", required=True)
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.traces, "traces.json")))["traces"]
    rows, t0 = [], time.time()
    for name, row in meta.items():
        trace = os.path.join(a.traces, name + ".trace")
        if "capacity@0.01" in row:
            for frac in ("0.01", "0.1"):
                cap = row["capacity@" + frac]
                opt, lru = row["opt_miss@" + frac], row["lru_miss@" + frac]
                res = {**elex(a.bench, trace, "--capacity-objects", cap), **peers(trace, cap, False)}
                gaps = {k: (v[0] - opt) / (lru - opt) for k, v in res.items()}
                rows.append({"trace": name, "capacity": f"{float(frac):.0%}", "objects": cap, "opt": opt,
                             "lru": lru, "miss": {k: v[0] for k, v in res.items()}, "gap": gaps})
                print(f"{name:14} {frac:>5} opt {opt:.4f} lru {lru:.4f} | " +
                      " ".join(f"{k} {v[0]:.4f} ({gaps[k]:.3f})" for k, v in res.items()), flush=True)
        else:
            for frac in (0.01, 0.1):
                budget = int(row["footprint_bytes"] * frac)
                res = {**elex(a.bench, trace, "--budget-bytes", budget), **peers(trace, budget, True)}
                rows.append({"trace": name, "capacity": f"{frac:.0%} bytes", "budget_bytes": budget,
                             "byte_miss": {k: v[1] for k, v in res.items()},
                             "miss": {k: v[0] for k, v in res.items()}})
                print(f"{name:14} {frac:>5} bytes | " +
                      " ".join(f"{k} obj {v[0]:.4f} byte {v[1]:.4f}" for k, v in res.items()), flush=True)
    gapped = [r for r in rows if "gap" in r]
    engines = list(gapped[0]["gap"].keys()) if gapped else []
    means = {e: sum(r["gap"][e] for r in gapped) / len(gapped) for e in engines}
    worse = {e: sum(1 for r in gapped if r["gap"][e] > 1.0 + 1e-3) for e in engines}
    os.makedirs(a.out_dir, exist_ok=True)
    json.dump({"rows": rows, "mean_gap": means, "worse_than_lru": worse, "seconds": time.time() - t0},
              open(os.path.join(a.out_dir, "cache.json"), "w"), indent=1)
    with open(os.path.join(a.out_dir, "cache.md"), "w") as f:
        f.write("Gap share (miss - OPT) / (LRU - OPT) per trace and capacity; 0 is optimal, 1 is LRU.\n\n")
        f.write("| trace | cap | OPT | LRU | " + " | ".join(engines) + " |\n")
        f.write("|---|---|---:|---:|" + "---:|" * len(engines) + "\n")
        for r in gapped:
            f.write(f"| {r['trace']} | {r['capacity']} | {r['opt']:.4f} | {r['lru']:.4f} | " +
                    " | ".join(f"{r['gap'][e]:.3f}" for e in engines) + " |\n")
        f.write("| **mean** | | | | " + " | ".join(f"**{means[e]:.3f}**" for e in engines) + " |\n")
        f.write("| traces worse than LRU | | | | " + " | ".join(str(worse[e]) for e in engines) + " |\n")
        for r in rows:
            if "byte_miss" in r:
                f.write(f"\n{r['trace']} at {r['capacity']} ({r['budget_bytes']:,} B): byte miss ratio " +
                        ", ".join(f"{k} {v:.4f}" for k, v in r["byte_miss"].items()) + "\n")
    print("mean gap share: " + ", ".join(f"{e} {m:.3f}" for e, m in means.items()))


if __name__ == "__main__":
    main()
