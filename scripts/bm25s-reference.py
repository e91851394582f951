"""Scores elex's terms with PyPI bm25s (method "lucene", k1 = 1.2, b = 0.75): reads the JSON of
crates/elex-text/examples/bm25s_tokens.rs on stdin, writes each query's top 10 (document number,
score) as JSON on stdout. scripts/bm25s-check.sh runs it."""
import json
import sys

import bm25s
import numpy as np

data = json.load(sys.stdin)
docs, queries = data["docs"], data["queries"]
retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
retriever.index(docs, show_progress=False)
results = []
for q in queries:
    # Score every document (no top-k shortcut), then rank: score descending, earlier document first.
    ids = [retriever.vocab_dict[t] for t in q if t in retriever.vocab_dict]
    if not ids:
        results.append([])
        continue
    scores = retriever.get_scores(ids)
    order = sorted((i for i in np.nonzero(scores)[0]), key=lambda i: (-scores[i], i))[:10]
    results.append([[int(i), float(scores[i])] for i in order])
json.dump({"bm25s": bm25s.__version__, "docs": len(docs), "queries": len(queries),
           "top10": results}, sys.stdout)
