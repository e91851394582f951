#!/usr/bin/env python3
"""Recall-vs-QPS plot of a browser benchmark run, with the plotting the native report uses
(matplotlib). Usage: plot.py browser-bench-TAG.json... ; writes browser-bench-TAG.png beside
each: one line per engine and environment (Chromium solid, Node dashed), QPS on a log scale."""
import json
import os
import sys


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for path in sys.argv[1:]:
        doc = json.load(open(path))
        fig, ax = plt.subplots(figsize=(8, 5.5))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        engines = []
        for env, style in (("chromium", "-"), ("node", "--")):
            run = doc.get(env)
            if not run:
                continue
            for e in run["results"]:
                if not e.get("runs"):
                    continue
                if e["engine"] not in engines:
                    engines.append(e["engine"])
                pts = [(r["recall"], r["qps"]) for r in e["runs"] if r["recall"] >= 0.8]
                if not pts:
                    continue
                c = colors[engines.index(e["engine"]) % len(colors)]
                ax.plot(*zip(*pts), style, marker="o", color=c, label=f"{e['engine']} ({env})")
        ax.set_yscale("log")
        ax.set_xlabel(f"recall@{doc['k']} (first {doc['n']} vectors x {doc['dims']})")
        ax.set_ylabel("queries per second (log)")
        ax.set_title(f"Browser benchmark: {doc['nq']} queries, M=16, efC=200")
        ax.axvline(0.95, color="grey", lw=0.8, ls="--")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        out = os.path.splitext(path)[0] + ".png"
        fig.savefig(out, dpi=110)
        print("plot:", out)


if __name__ == "__main__":
    main()
