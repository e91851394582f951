"""How the q4 storage kind was chosen: recall@10 after re-ranking the best R of a 4-bit code
ranking (brute force, so the graph plays no part), for per-vector scalar codes with Lloyd-Max
(Gaussian) levels or uniform levels, each with and without a random rotation first (the first
step of RaBitQ). Queries are i8, as the index scores them.

    python crates/elex-bench/peers/q4_choice.py DATA_DIR   (base.fvecs, query.fvecs, groundtruth.ivecs)
"""
import sys

import numpy as np


def fvecs(p):
    a = np.fromfile(p, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].view(np.float32).copy()


def ivecs(p):
    a = np.fromfile(p, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy()


LLOYD_MAX = np.array([0.1284, 0.3881, 0.6568, 0.9423, 1.2562, 1.6180, 2.0690, 2.7326])
LEVELS_LM = np.round(np.concatenate([-LLOYD_MAX[::-1], LLOYD_MAX]) / 2.7326 * 127)
LEVELS_UNIFORM = np.arange(-15, 16, 2).astype(float) * 8


def quantize(x, levels, unit):
    """Nearest levels from the RMS scale, then the least-squares scale, twice (as elex-simd)."""
    s = np.sqrt((x**2).mean(1, keepdims=True)) / unit
    for _ in range(2):
        c = np.abs((x / s)[:, :, None] - levels[None, None, :]).argmin(2)
        lv = levels[c]
        s = (x * lv).sum(1, keepdims=True) / (lv * lv).sum(1, keepdims=True)
    return lv * s


def i8(v):
    s = np.abs(v).max(1, keepdims=True) / 127
    return np.round(v / s) * s


def main():
    d = sys.argv[1]
    x = fvecs(f"{d}/base.fvecs")
    q = fvecs(f"{d}/query.fvecs")[:300]
    gt = ivecs(f"{d}/groundtruth.ivecs")[:300, :10]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    rot, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((x.shape[1],) * 2))
    for name, levels, unit in [("lloyd-max", LEVELS_LM, 127 / 2.7326), ("uniform", LEVELS_UNIFORM, 60.0)]:
        for rotate in (False, True):
            xr, qr = (x @ rot, q @ rot) if rotate else (x, q)
            scores = i8(qr) @ quantize(xr, levels, unit).T
            out = []
            for r in (10, 20, 40):
                top = np.argpartition(-scores, r, axis=1)[:, :r]
                hits = 0
                for i in range(len(q)):
                    best = top[i][np.argsort(-(x[top[i]] @ q[i]))[:10]]
                    hits += len(set(best) & set(gt[i]))
                out.append(f"R={r}: {hits / (10 * len(q)):.4f}")
            print(f"{name:9} {'rotated' if rotate else 'as is  '}  " + "  ".join(out), flush=True)


if __name__ == "__main__":
    main()
