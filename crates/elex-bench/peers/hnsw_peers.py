#!/usr/bin/env python3
"""Runs the HNSW peers (hnswlib, faiss IndexHNSWFlat, usearch) on one fvecs/ivecs set with the
same M, efConstruction and ef grid as elex-bench, on one thread, and writes one JSON per peer in
elex-bench's format: {"engine", "build_seconds", "bytes_per_vector", "runs": [{"ef", "recall",
"qps", "p50_us", "p95_us", "p99_us", "dist_evals"}]}.

QPS is measured over one batched call per ef with one thread (no per-query Python overhead);
latency percentiles come from a second pass of single-query calls and include that overhead.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def read_vecs(path, dtype, limit=None):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        sys.exit(f"{path}: empty")
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)
    if not (rows[:, 0] == d).all():
        sys.exit(f"{path}: rows of differing dimension")
    out = rows[:, 1:]
    if limit:
        out = out[:limit]
    return np.ascontiguousarray(out.view(dtype) if dtype == np.float32 else out)


def exact_gt(base, queries, metric, k):
    if metric == "l2":
        d = (queries ** 2).sum(1)[:, None] - 2 * queries @ base.T + (base ** 2).sum(1)[None, :]
        return np.argsort(d, axis=1, kind="stable")[:, :k]
    if metric == "cosine":
        b = base / np.linalg.norm(base, axis=1, keepdims=True)
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        return np.argsort(-(q @ b.T), axis=1, kind="stable")[:, :k]
    return np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :k]


def recall(found, gt, k):
    hits = sum(len(set(f[:k]) & set(g[:k])) for f, g in zip(found, gt))
    return hits / (len(gt) * k)


def latencies(one_query, queries, n=200):
    lat = []
    for q in queries[:n]:
        t = time.perf_counter()
        one_query(q)
        lat.append((time.perf_counter() - t) * 1e6)
    lat.sort()
    pick = lambda p: lat[min(len(lat) - 1, round((len(lat) - 1) * p))]
    return pick(0.5), pick(0.95), pick(0.99)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_hnswlib(base, a):
    """hnswlib over `base` with `a`'s metric, M, efC and seed, on `a.build_threads` threads (one
    when absent; hnswlib's own parallel add_items otherwise): (index, seconds)."""
    import hnswlib

    space = {"cosine": "cosine", "dot": "ip", "l2": "l2"}[a.metric]
    idx = hnswlib.Index(space=space, dim=base.shape[1])
    t = time.perf_counter()
    idx.init_index(max_elements=len(base), M=a.m, ef_construction=a.ef_construction, random_seed=a.seed)
    threads = getattr(a, "build_threads", None) or 1
    idx.set_num_threads(threads)
    idx.add_items(base, np.arange(len(base)), num_threads=threads)
    return idx, time.perf_counter() - t


def run_hnswlib(base, queries, gt, a):
    import hnswlib

    before = rss_bytes()
    idx, build = build_hnswlib(base, a)
    mem = rss_bytes() - before
    runs = []
    for ef in a.ef:
        ef = max(ef, a.k)
        idx.set_ef(ef)
        t = time.perf_counter()
        labels, _ = idx.knn_query(queries, k=a.k, num_threads=1)
        qps = len(queries) / (time.perf_counter() - t)
        p50, p95, p99 = latencies(lambda q: idx.knn_query(q, k=a.k, num_threads=1), queries)
        runs.append(dict(ef=ef, recall=recall(labels, gt, a.k), qps=qps, p50_us=p50, p95_us=p95, p99_us=p99, dist_evals=None))
    return dict(engine="hnswlib", version=hnswlib.__version__ if hasattr(hnswlib, "__version__") else "", build_seconds=build, bytes_per_vector=mem / len(base), runs=runs)


def run_faiss(base, queries, gt, a):
    import faiss

    faiss.omp_set_num_threads(1)
    b, q = base, queries
    if a.metric == "cosine":
        b = base / np.linalg.norm(base, axis=1, keepdims=True)
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    metric = faiss.METRIC_L2 if a.metric == "l2" else faiss.METRIC_INNER_PRODUCT
    before = rss_bytes()
    t = time.perf_counter()
    idx = faiss.IndexHNSWFlat(base.shape[1], a.m, metric)
    idx.hnsw.efConstruction = a.ef_construction
    idx.add(np.ascontiguousarray(b, dtype=np.float32))
    build = time.perf_counter() - t
    mem = rss_bytes() - before
    runs = []
    for ef in a.ef:
        ef = max(ef, a.k)
        idx.hnsw.efSearch = ef
        stats = faiss.cvar.hnsw_stats
        stats.reset()
        t = time.perf_counter()
        _, labels = idx.search(np.ascontiguousarray(q, dtype=np.float32), a.k)
        qps = len(q) / (time.perf_counter() - t)
        evals = stats.ndis / len(q) if hasattr(stats, "ndis") else None
        p50, p95, p99 = latencies(lambda x: idx.search(x[None, :], a.k), q)
        runs.append(dict(ef=ef, recall=recall(labels, gt, a.k), qps=qps, p50_us=p50, p95_us=p95, p99_us=p99, dist_evals=evals))
    return dict(engine="faiss-hnsw", version=faiss.__version__, build_seconds=build, bytes_per_vector=mem / len(base), runs=runs)


def run_usearch(base, queries, gt, a):
    from usearch.index import Index
    import usearch

    metric = {"cosine": "cos", "dot": "ip", "l2": "l2sq"}[a.metric]
    before = rss_bytes()
    t = time.perf_counter()
    idx = Index(ndim=base.shape[1], metric=metric, dtype="f32", connectivity=a.m, expansion_add=a.ef_construction, expansion_search=a.k)
    idx.add(np.arange(len(base)), base, threads=1)
    build = time.perf_counter() - t
    mem = rss_bytes() - before
    runs = []
    for ef in a.ef:
        ef = max(ef, a.k)
        idx.expansion_search = ef
        t = time.perf_counter()
        res = idx.search(queries, a.k, threads=1)
        qps = len(queries) / (time.perf_counter() - t)
        p50, p95, p99 = latencies(lambda x: idx.search(x, a.k, threads=1), queries)
        runs.append(dict(ef=ef, recall=recall(res.keys, gt, a.k), qps=qps, p50_us=p50, p95_us=p95, p99_us=p99, dist_evals=None))
    return dict(engine="usearch", version=usearch.__version__, build_seconds=build, bytes_per_vector=mem / len(base), runs=runs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef", type=lambda s: [int(x) for x in s.split(",")], default=[10, 20, 40, 80, 160, 320])
    p.add_argument("--metric", choices=["cosine", "dot", "l2"], default="cosine")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit", type=int)
    p.add_argument("--queries", type=int)
    p.add_argument("--engines", default="hnswlib,faiss,usearch")
    p.add_argument("--out-dir", required=True)
    a = p.parse_args()
    base = read_vecs(a.base, np.float32, a.limit)
    queries = read_vecs(a.query, np.float32, a.queries)
    gt = exact_gt(base, queries, a.metric, a.k) if a.limit else read_vecs(a.gt, np.int32, a.queries)[:, : a.k]
    os.makedirs(a.out_dir, exist_ok=True)
    runners = dict(hnswlib=run_hnswlib, faiss=run_faiss, usearch=run_usearch)
    for name in a.engines.split(","):
        print(f"== {name}: {len(base)} x {base.shape[1]}, {len(queries)} queries, M={a.m}, efC={a.ef_construction}", flush=True)
        r = runners[name](base, queries, gt, a)
        r.update(n=len(base), dims=base.shape[1], queries=len(queries), k=a.k, m=a.m, ef_construction=a.ef_construction, metric=a.metric)
        print(f"build {r['build_seconds']:.2f} s, {r['bytes_per_vector']:.0f} bytes/vector (RSS growth)")
        for run in r["runs"]:
            print(f"  ef {run['ef']:>4}  recall {run['recall']:.4f}  QPS {run['qps']:>9.0f}  p50 {run['p50_us']:.1f} us  p95 {run['p95_us']:.1f} us")
        with open(os.path.join(a.out_dir, f"hnsw-{name}.json"), "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
