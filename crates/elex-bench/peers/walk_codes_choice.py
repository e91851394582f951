"""Whether walking codes of fewer bytes than the 4-bit ones could serve the walk at 384 dimensions:
the share of the true top 10 (cosine) among the best m by a code ranking (brute force, so the graph
plays no part), for uniform 4-bit codes of all dimensions (what the relaxed build walks), 2- and
3-bit codes of all dimensions, and 4-bit codes of the first p principal components (a projection
fitted on the first 5,000 vectors). Queries are i8, as the index scores them. A code that needs a
larger m for the same share needs a larger ef for the same recall.

    python crates/elex-bench/peers/walk_codes_choice.py DATA_DIR [N]   (base.fvecs, query.fvecs)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hnsw_peers import exact_gt, read_vecs  # noqa: E402
from q4_choice import i8  # noqa: E402


def uniform(x, bits):
    """Per-row uniform levels symmetric about zero, `x ≈ s·(c − h)`, as `quantize_u4` for 4 bits."""
    top = 2**bits - 1
    h = top / 2
    s = np.abs(x).max(1, keepdims=True) / h
    return s * (np.clip(np.round(x / s + h), 0, top) - h)


MS = (10, 16, 24, 32, 48, 64)


def shares(scores, truth):
    order = np.argsort(-scores, axis=1)
    return [np.mean([len(set(order[i, :m]) & set(truth[i])) / 10 for i in range(len(truth))]) for m in MS]


def main():
    d = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    x = read_vecs(f"{d}/base.fvecs", np.float32, n)
    q = read_vecs(f"{d}/query.fvecs", np.float32, 1000)
    truth = exact_gt(x, q, "cosine", 10)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    centred = x - x.mean(0)
    w, v = np.linalg.eigh(centred[:5000].T @ centred[:5000])
    v = v[:, ::-1]
    w = w[::-1]
    print(f"n = {n}, best m = " + " / ".join(map(str, MS)))
    qi = i8(q)
    rows = [(f"{b}-bit, {x.shape[1]} dims", qi @ uniform(x, b).T) for b in (4, 3, 2)]
    for p in (192, 128, 96):
        # q·x = q·(x − mean) + q·mean, and q·mean is the same for every row of one query
        rows.append((f"4-bit, {p} components ({w[:p].sum() / w.sum():.0%} of the variance)",
                     i8(q @ v[:, :p]) @ uniform(centred @ v[:, :p], 4).T))
    for name, scores in rows:
        print(f"{name:44}" + " / ".join(f"{s:.4f}" for s in shares(scores, truth)), flush=True)


if __name__ == "__main__":
    main()
