#!/usr/bin/env bash
# The SIMD/scalar ratio of the elex-simd kernels in wasm, in Node: builds the ratio bench for
# wasm32-wasip1 twice (with +simd128 and without), runs both in the same Node, and prints the
# simd128 build against the scalar build for each kernel and dim.
# Usage: scripts/wasm-kernel-ratio.sh [--json OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
json_out=""
[[ "${1:-}" == "--json" ]] && json_out="${2:?--json needs a path}"

build() { # $1 = target dir suffix, $2 = rustflags
  CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="$2" cargo build -q --release --target wasm32-wasip1 \
    -p elex-simd --example ratio --target-dir "target/wasi-$1"
  echo "target/wasi-$1/wasm32-wasip1/release/examples/ratio.wasm"
}
simd_wasm=$(build simd "-C target-feature=+simd128")
scalar_wasm=$(build scalar "")
run() { ELEX_BUILD_LABEL="$2" node --no-warnings www/scripts/run-wasi.mjs "$1" --json; }
simd_json=$(run "$simd_wasm" wasm-simd128)
scalar_json=$(run "$scalar_wasm" wasm-scalar)
node www/scripts/wasm-ratio-report.mjs "$simd_json" "$scalar_json" "$json_out"
