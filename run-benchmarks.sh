#!/usr/bin/env bash
# Benchmarks elex, and (as later parts land) its peers side by side in one run.
#   --quick   a few minutes: the kernel SIMD/scalar ratios, natively and in wasm (Node).
#   (default) everything: --quick plus the criterion benches of every crate.
# Results go to bench-results/ (JSON and text).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/env.sh
mode=full
[[ "${1:-}" == "--quick" ]] && mode=quick
out=bench-results
mkdir -p "$out"

echo "== elex-simd: SIMD/scalar ratio, native ($(uname -m))"
cargo run -q --release -p elex-simd --example ratio | tee "$out/kernels-native.txt"
cargo run -q --release -p elex-simd --example ratio -- --json > "$out/kernels-native.json"

echo
echo "== elex-simd: simd128 build vs scalar build, wasm in Node"
bash scripts/wasm-kernel-ratio.sh --json "$out/kernels-wasm.json" | tee "$out/kernels-wasm.txt"

if [[ $mode == full ]]; then
  echo
  echo "== criterion benches"
  cargo bench -q --workspace 2>&1 | tee "$out/criterion.txt"
fi
echo
echo "results in $out/"
