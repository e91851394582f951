#!/usr/bin/env bash
# elex's BM25 against PyPI bm25s, live: installs bm25s into a virtual environment in the tool
# cache, writes elex's terms of the first 5,000 docs-50k passages and 200 queries, scores them
# with bm25s (scripts/bm25s-reference.py), saves its top 10 as the fixture of
# crates/elex-text/tests/bm25s.rs and runs that test. git diff shows whether bm25s changed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$ELEX_CACHE/venv-text"
if ! "$venv/bin/python" -c "import bm25s" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q bm25s numpy scipy
fi
data="${1:-../shared/data/docs-50k}"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cargo run -q --release -p elex-text --example bm25s_tokens -- "$data" 5000 200 > "$tmp"
"$venv/bin/python" scripts/bm25s-reference.py < "$tmp" > crates/elex-text/tests/data/bm25s-top10.json
cargo test -q --release -p elex-text --test bm25s
