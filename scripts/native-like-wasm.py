#!/usr/bin/env python3
"""Where the wasm build's distance from native comes from: `elex-bench hnsw` natively with this
CPU's best kernels, then the same binary pinned to narrower kernels (`elex-bench hnsw --isa`: avx2,
then sse2, 128 bits wide as wasm simd128 is), then a build with elex-simd's `wasm-like-memory`
feature pinned to sse2 (prefetches become one-byte loads, as wasm has no prefetch instruction,
and no huge pages, as a wasm engine's memory has none). Interleaved rounds (the order reversed
every other round), the same data, seed and ef list; the builds are bit-identical, so recall
per ef must be equal across the variants (checked). Prints the median of the per-round QPS
ratios against the first variant, per ef; compare with `www/bench/wasm-native.mjs`, the wasm
builds in Chromium against the same native binary.

  python3 scripts/native-like-wasm.py [--data DIR] [--limit N] [--queries 1000]
      [--ef 16,24,32,40] [--rounds 3] [--json OUT]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    """The release binary and the `wasm-like-memory` one (its own target dir, so switching the
    feature never rebuilds the other)."""
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "elex-bench"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "elex-bench",
                    "--features", "elex-simd/wasm-like-memory",
                    "--target-dir", "target/wasm-like"], cwd=ROOT, check=True)
    return (os.path.join(ROOT, "target", "release", "elex-bench"),
            os.path.join(ROOT, "target", "wasm-like", "release", "elex-bench"))


def variants(plain, like):
    """(label, binary, ISA pin or None): the narrower pins only where the CPU has them."""
    out = [("native, best kernels", plain, None)]
    if platform.machine() in ("x86_64", "AMD64"):
        out += [("avx2", plain, "avx2"), ("sse2 (128-bit)", plain, "sse2"),
                ("sse2, 4 KiB pages, touches (wasm-like)", like, "sse2")]
    else:
        out += [("4 KiB pages, touches (wasm-like)", like, None)]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "docs-50k"))
    p.add_argument("--limit", type=int, help="the first N base vectors (ground truth recomputed)")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--ef", default="16,24,32,40")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", help="write every run and the ratios here")
    a = p.parse_args()
    plain, like = build()
    vs = variants(plain, like)
    tmp = tempfile.mkdtemp(prefix="elex-native-like-wasm-")
    runs = {label: [] for label, _, _ in vs}
    # A pin from the caller's shell would turn the best-kernels run into a pinned one: every
    # run gets its kernels from `--isa` alone.
    env = {k: v for k, v in os.environ.items() if k != "ELEX_SIMD_ISA"}
    for r in range(a.rounds):
        for v, (label, binary, isa) in enumerate(vs if r % 2 == 0 else vs[::-1]):
            out = os.path.join(tmp, f"round{r}-{v}.json")
            cmd = [binary, "hnsw", "--base", os.path.join(a.data, "base.fvecs"),
                   "--query", os.path.join(a.data, "query.fvecs"),
                   "--gt", os.path.join(a.data, "groundtruth.ivecs"),
                   "--queries", str(a.queries), "--ef", a.ef, "--json", out]
            if isa:
                cmd += ["--isa", isa]
            if a.limit:
                cmd += ["--limit", str(a.limit)]
            done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                sys.exit(f"{label}: elex-bench failed ({done.returncode}):\n{done.stderr}")
            with open(out) as f:
                j = json.load(f)
            if isa and j.get("isa") != isa:
                sys.exit(f"{label}: ran {j.get('isa')}, not {isa}")
            runs[label].append(j)
            print(f"round {r} {label:40s} {str(j.get('isa')):8s} qps "
                  + " ".join(f"{x['qps']:.0f}" for x in j["runs"])
                  + f"  build {j['build_seconds']:.1f} s", flush=True)
    first = runs[vs[0][0]]
    recalls = [x["recall"] for x in first[0]["runs"]]
    for label, rs in runs.items():
        for j in rs:
            if [x["recall"] for x in j["runs"]] != recalls:
                sys.exit(f"{label}: recall per ef differs from the first variant's: "
                         f"{[x['recall'] for x in j['runs']]} against {recalls}")
    efs = [x["ef"] for x in first[0]["runs"]]
    table = {}
    print(f"\nmedian of per-round QPS ratios against '{vs[0][0]}' ({a.rounds} rounds); "
          "recall per ef " + " / ".join(f"{x:.4f}" for x in recalls) + " (equal in every run)")
    for label, rs in runs.items():
        per_ef = [[b["runs"][i]["qps"] / f["runs"][i]["qps"] for f, b in zip(first, rs)]
                  for i in range(len(efs))]
        build_ratio = statistics.median(b["build_seconds"] / f["build_seconds"]
                                        for f, b in zip(first, rs))
        table[label] = {"qps": [statistics.median(x) for x in per_ef],
                        "range": [[min(x), max(x)] for x in per_ef], "build": build_ratio}
        print(f"{label:40s} " + "  ".join(
            f"ef {ef}: {statistics.median(x):.2f} [{min(x):.2f}-{max(x):.2f}]"
            for ef, x in zip(efs, per_ef)) + f"  build {build_ratio:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"ef": efs, "recall": recalls, "ratios": table, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
