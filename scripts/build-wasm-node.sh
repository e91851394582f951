#!/usr/bin/env bash
# Builds crates/elex-wasm twice (with and without +simd128) and runs wasm-bindgen for Node into
# target/wasm-node/{simd,scalar}/. For Node benches and tests; the npm package's web and bundler
# builds come from build-optimized.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
for flavour in simd scalar; do
  flags=""
  [[ $flavour == simd ]] && flags="-C target-feature=+simd128"
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" cargo build -q --release \
    --target wasm32-unknown-unknown -p elex-wasm --target-dir "target/wasm-$flavour"
  wasm-bindgen --target nodejs --out-dir "target/wasm-node/$flavour" \
    "target/wasm-$flavour/wasm32-unknown-unknown/release/elex_wasm.wasm"
done
echo "target/wasm-node/{simd,scalar}/elex_wasm.js"
