#!/usr/bin/env bash
# The peers for side-by-side benchmarks, from PyPI, into a virtual environment in the tool cache
# (hnswlib builds from source: about 5 minutes the first time). Skips what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$ELEX_CACHE/venv-bench"
pkgs=(numpy hnswlib faiss-cpu usearch matplotlib libcachesim)
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
if ! "$venv/bin/python" -c "import numpy, hnswlib, faiss, usearch, matplotlib, libcachesim" 2>/dev/null; then
  echo "[setup-bench] pip install ${pkgs[*]} into $venv"
  "$venv/bin/pip" install -q "${pkgs[@]}"
fi
echo "$venv/bin/python"
