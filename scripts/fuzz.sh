#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/, outside the workspace) for a number of executions each,
# then the JS-API fuzzer (www/test/fuzz.mjs) for RUNS calls per wasm flavour against the built
# npm package (build-optimized.sh builds it when www/pkg is missing).
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP=1 enables them on the stable toolchain.
# Usage: scripts/fuzz.sh [RUNS] [TARGET...]   (default 1,000,000 runs of every target; the
# targets are hnsw_from_bytes, cache_ops, text_ops and js)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
runs="${1:-1000000}"
shift || true
fuzz_root="$ELEX_CACHE/cargo-fuzz"
if [[ ! -x "$fuzz_root/bin/cargo-fuzz" ]]; then
  echo "[fuzz] cargo install cargo-fuzz into $fuzz_root"
  cargo install -q cargo-fuzz --root "$fuzz_root"
fi
export PATH="$fuzz_root/bin:$PATH" RUSTC_BOOTSTRAP=1
targets=("$@")
((${#targets[@]})) || targets=(hnsw_from_bytes cache_ops text_ops js)
for t in "${targets[@]}"; do
  if [[ $t == js ]]; then
    [[ -f www/pkg/web/simd/elex_bg.wasm ]] || bash build-optimized.sh >/dev/null
    echo "[fuzz] js: $runs calls per flavour"
    node www/test/fuzz.mjs --calls "$runs" --seed "${ELEX_FUZZ_SEED:-$RANDOM}"
    continue
  fi
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  if [[ $t == hnsw_from_bytes ]]; then
    cargo run -q --release -p elex-hnsw --example seed_corpus -- "$corpus"
  fi
  echo "[fuzz] $t: $runs runs"
  # Snapshots want room; op sequences are 3 bytes per op, so 3 KB is a 1,000-op sequence.
  max_len=65536
  [[ $t == cache_ops ]] && max_len=3072
  [[ $t == text_ops ]] && max_len=8192
  (cd fuzz && cargo fuzz run --sanitizer none "$t" -- -runs="$runs" -max_len="$max_len" 2>&1 | tail -n 5)
done
