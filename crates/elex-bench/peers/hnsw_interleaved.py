#!/usr/bin/env python3
"""elex beside hnswlib natively, in interleaved rounds (elex, hnswlib, elex, hnswlib, ...): each
round builds both indexes from scratch on one thread (or both on `--build-threads N`: elex's
parallel rounds against hnswlib's own multi-threaded add_items; same M, efConstruction, data; searches
stay on one thread) and sweeps the
same ef grid; per round, each engine's QPS at the target recall is read off its recall/QPS curve
(log-linear between the two ef points around the target; at each ef the best of `--passes` query
passes, which drops the passes a noisy neighbour slowed down), and the round's ratio is
elex / hnswlib.
Reports the median of the per-round ratios (QPS at each target, build time): single sequential
runs on a shared 2-core machine swing by 25%.

  hnsw_interleaved.py --bin target/release/elex-bench --base B --query Q --gt G [--limit N]
      [--rounds 3] [--passes 3] [--isa avx2] [--ef 10,20,...] [--targets 0.9,0.95] [--storage f32] [--keep-f32]
      [--build-threads N] [--json OUT]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hnsw_peers import build_hnswlib, exact_gt, read_vecs, recall  # noqa: E402


def qps_at(runs, target):
    """QPS at `target` recall, interpolated in log(QPS) between the bracketing ef points; None
    when the sweep never reaches it."""
    pts = sorted((r["recall"], r["qps"]) for r in runs)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1:
            if r1 == r0:
                return q1
            t = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
    if pts and pts[0][0] >= target:
        return pts[0][1]
    return None


def best_per_ef(runs):
    """The best QPS of the passes at each ef (recall is the same in every pass)."""
    best = {}
    for r in runs:
        if r["ef"] not in best or r["qps"] > best[r["ef"]]["qps"]:
            best[r["ef"]] = r
    return [best[ef] for ef in sorted(best)]


def run_hnswlib(base, queries, gt, a):
    idx, build = build_hnswlib(base, a)
    runs = []
    for ef in a.ef:
        idx.set_ef(max(ef, a.k))
        for _ in range(a.passes):
            t = time.perf_counter()
            labels, _ = idx.knn_query(queries, k=a.k, num_threads=1)
            runs.append(dict(ef=ef, recall=recall(labels, gt, a.k), qps=len(queries) / (time.perf_counter() - t)))
    return dict(build_seconds=build, runs=best_per_ef(runs))


def run_elex(a, tmp):
    out = os.path.join(tmp, "elex.json")
    efs = ",".join(str(ef) for ef in a.ef for _ in range(a.passes))
    cmd = [a.bin, "hnsw", "--base", a.base, "--query", a.query, "--gt", a.gt, "--ef", efs,
           "--storage", a.storage, "--m", str(a.m), "--ef-construction", str(a.ef_construction), "--json", out]
    if a.keep_f32:
        cmd.append("--keep-f32")
    if a.isa:
        cmd += ["--isa", a.isa]
    if a.build_threads:
        cmd += ["--build-threads", str(a.build_threads)]
    if a.limit:
        cmd += ["--limit", str(a.limit)]
    if a.queries:
        cmd += ["--queries", str(a.queries)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        r = json.load(f)
    r["runs"] = best_per_ef(r["runs"])
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef", type=lambda s: [int(x) for x in s.split(",")], default=[10, 16, 24, 32, 48, 64, 96, 128, 192, 256])
    p.add_argument("--targets", type=lambda s: [float(x) for x in s.split(",")], default=[0.9, 0.95])
    p.add_argument("--metric", choices=["cosine", "dot", "l2"], default="cosine")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit", type=int)
    p.add_argument("--queries", type=int)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--isa", help="elex's kernels (default: the best this CPU has)")
    p.add_argument("--storage", default="f32")
    p.add_argument("--keep-f32", action="store_true")
    p.add_argument("--build-threads", type=int, help="both builds on N threads (default: one, sequential)")
    p.add_argument("--json")
    a = p.parse_args()
    base = read_vecs(a.base, np.float32, a.limit)
    queries = read_vecs(a.query, np.float32, a.queries)
    gt = exact_gt(base, queries, a.metric, a.k) if a.limit else read_vecs(a.gt, np.int32, a.queries)[:, : a.k]
    label = a.storage + (" + re-rank" if a.keep_f32 else "")
    print(f"== elex {label} beside hnswlib: {len(base)} x {base.shape[1]}, {len(queries)} queries, "
          f"M {a.m}, efC {a.ef_construction}, builds on {a.build_threads or 1} thread(s), {a.rounds} interleaved rounds",
          flush=True)
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            e = run_elex(a, tmp)
            h = run_hnswlib(base, queries, gt, a)
            row = {"isa": e.get("isa"), "build_elex_s": e["build_seconds"], "build_hnswlib_s": h["build_seconds"],
                   "build_ratio": e["build_seconds"] / h["build_seconds"], "qps": {}}
            for t in a.targets:
                qe, qh = qps_at(e["runs"], t), qps_at(h["runs"], t)
                row["qps"][str(t)] = {"elex": qe, "hnswlib": qh, "ratio": qe / qh if qe and qh else None}
            rounds.append(row)
            print(f"round {r + 1}: build elex {row['build_elex_s']:.1f} s, hnswlib {row['build_hnswlib_s']:.1f} s; "
                  + "; ".join(f"recall {t}: elex {v['elex'] or 0:.0f} QPS, hnswlib {v['hnswlib'] or 0:.0f} QPS, "
                              f"{v['ratio'] or float('nan'):.2f}x" for t, v in row["qps"].items()), flush=True)
    summary = {"build_ratio_median": statistics.median(r["build_ratio"] for r in rounds)}
    for t in a.targets:
        ratios = [r["qps"][str(t)]["ratio"] for r in rounds if r["qps"][str(t)]["ratio"]]
        summary[f"qps_ratio_median_at_{t}"] = statistics.median(ratios) if ratios else None
    print("median per-round ratios (elex / hnswlib): "
          + ", ".join(f"{k} {v:.2f}" if v else f"{k} -" for k, v in summary.items()), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"n": len(base), "dims": int(base.shape[1]), "queries": len(queries), "storage": label,
                       "build_threads": a.build_threads or 1,
                       "m": a.m, "ef_construction": a.ef_construction, "passes": a.passes, "rounds": rounds, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
