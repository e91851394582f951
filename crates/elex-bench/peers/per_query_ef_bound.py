"""Whether an ef chosen per query, by how hard the query looks, could search faster than one ef for
all queries at the same mean recall@10. hnswlib (M 16, efC 200, cosine) is searched at every ef of a
grid; each query's recall is kept per ef, and the cost of an ef is hnswlib's mean time per query at
it (one thread, best of 3 passes), smoothed as a straight line in ef fitted to those times (so that
a noisy pass cannot make a larger ef look cheaper; run it on an idle machine). Two figures per
target recall, each as the time per query of the one ef that reaches the same mean recall over the
time per query of the plan:

- the oracle: each query gets its own ef, knowing its recall at every ef (a greedy plan by recall
  gained per microsecond, so about the best that any rule could do);
- buckets by a feature of a short first search (ef 10): queries fall into 8 quantile buckets of the
  feature, each bucket gets the ef that the greedy plan gives it on 500 calibration queries, and the
  other 500 are searched with it (median of 10 random splits). The first search is not charged,
  as if the search could go on from it: a bound for such a rule.

    python crates/elex-bench/peers/per_query_ef_bound.py DATA_DIR N   (base.fvecs, query.fvecs)
"""
import heapq
import os
import sys
import time
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hnsw_peers import build_hnswlib, exact_gt, read_vecs  # noqa: E402

EFS = [10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256, 320, 400]
TARGETS = (0.9, 0.95, 0.99)


def greedy(curves, weights, cost, target):
    """Per-row indices into EFS so that the weighted mean recall reaches `target`, each step the one
    with the most recall gained per unit of cost."""
    cur = np.zeros(len(curves), int)

    def step(i):
        gains = (curves[i, cur[i] + 1 :] - curves[i, cur[i]]) / (cost[cur[i] + 1 :] - cost[cur[i]])
        if gains.size == 0 or gains.max() <= 0:
            return None
        j = int(gains.argmax())
        return (-gains[j], i, cur[i] + 1 + j)

    heap = [s for s in (step(i) for i in range(len(curves))) if s]
    heapq.heapify(heap)
    while (weights * curves[np.arange(len(curves)), cur]).sum() < target and heap:
        _, i, j = heapq.heappop(heap)
        cur[i] = j
        s = step(i)
        if s:
            heapq.heappush(heap, s)
    return cur


def fixed_cost(recall_per_ef, cost, target):
    """Time per query of one ef for all, interpolated to `target` mean recall."""
    return float(np.interp(target, recall_per_ef, cost))


def main():
    d, n = sys.argv[1], int(sys.argv[2])
    base = read_vecs(f"{d}/base.fvecs", np.float32, n)
    queries = read_vecs(f"{d}/query.fvecs", np.float32, 1000)
    truth = exact_gt(base, queries, "cosine", 10)
    idx, _ = build_hnswlib(base, SimpleNamespace(metric="cosine", m=16, ef_construction=200, seed=100, build_threads=2))
    idx.set_num_threads(1)
    recall = np.zeros((len(queries), len(EFS)))
    cost = np.zeros(len(EFS))
    for j, ef in enumerate(EFS):
        idx.set_ef(ef)
        best = np.inf
        for _ in range(3):
            t = time.perf_counter()
            labels, _ = idx.knn_query(queries, k=10)
            best = min(best, time.perf_counter() - t)
        cost[j] = best / len(queries) * 1e6
        recall[:, j] = [len(set(a) & set(b)) / 10 for a, b in zip(labels, truth)]
    print("ef, mean recall, us per query:", ", ".join(f"{e} {r:.3f} {c:.0f}" for e, r, c in zip(EFS, recall.mean(0), cost)))
    slope, intercept = np.polyfit(EFS, cost, 1)
    cost = intercept + slope * np.array(EFS, float)
    print(f"us per query fitted: {intercept:.1f} + {slope:.3f} * ef")

    for t in TARGETS:
        plan = greedy(recall, np.full(len(queries), 1 / len(queries)), cost, t)
        mean = recall[np.arange(len(queries)), plan].mean()
        print(f"oracle, target {t}: {fixed_cost(recall.mean(0), cost, mean) / cost[plan].mean():.2f}x")

    idx.set_ef(10)
    _, dist = idx.knn_query(queries, k=10)
    dist = np.maximum(dist, 1e-6)
    lid = -1 / np.mean(np.log(dist[:, :9] / dist[:, 9:10]), axis=1)
    features = {"d1": dist[:, 0], "d10": dist[:, 9], "d10/d1": dist[:, 9] / dist[:, 0], "lid": lid, "d1*lid": dist[:, 0] * lid}
    rng = np.random.default_rng(1)
    buckets = 8
    for name, f in features.items():
        row = []
        for t in TARGETS:
            gains, delivered = [], []
            for _ in range(10):
                perm = rng.permutation(len(queries))
                cal, test = perm[:500], perm[500:]
                edges = np.quantile(f[cal], np.linspace(0, 1, buckets + 1)[1:-1])
                bc, bt = np.searchsorted(edges, f[cal]), np.searchsorted(edges, f[test])
                curves = np.array([recall[cal][bc == b].mean(0) for b in range(buckets)])
                plan = greedy(curves, np.array([(bc == b).mean() for b in range(buckets)]), cost, t)[bt]
                got = recall[test, plan].mean()
                gains.append(fixed_cost(recall[test].mean(0), cost, got) / cost[plan].mean())
                delivered.append(got)
            row.append(f"{t}: {np.median(gains):.2f}x at {np.mean(delivered):.3f}")
        print(f"buckets by {name}: " + " | ".join(row))


if __name__ == "__main__":
    main()
