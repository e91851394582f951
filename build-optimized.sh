#!/usr/bin/env bash
# Builds the npm package's WebAssembly: crates/elex-wasm in the release-wasm profile (opt-level 3,
# fat LTO, panic=abort: measured 1.8x the QPS of opt-level "s" in wasm for +3.6 KB Brotli;
# ELEX_WASM_PROFILE=release-size builds for size), three times (simd128 with relaxed SIMD, simd128,
# neither: the loader runs the first the browser supports), each as the full build (`elex`) and
# the core build (`elex/core`: the vector index, the text index and hybrid search); wasm-bindgen
# for the web and bundler targets (core and relaxed: web); wasm-opt from the npm `binaryen` package
# (Debian's binaryen 108 writes broken modules for current wasm-bindgen output); Brotli
# at quality 11. Prints raw, optimized and Brotli sizes of every .wasm and JS glue file, and the
# -O3 and -Oz sizes side by side (ELEX_WASM_OPT picks the one shipped, default -O3: it costs
# under 0.1 KB Brotli over -Oz and searched about 12% faster in Node). Exits
# non-zero when the Brotli total of one flavour's web build (wasm + JS glue) is above 500 KB, or
# the core build's above 150 KB.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/env.sh
opt="${ELEX_WASM_OPT:--O3}"
limit=$((500 * 1024))
# The core build (vector index, text index, hybrid search) stays within 150 KB Brotli (150,000
# bytes; www/test/core.mjs counts its loader too).
core_limit=150000
out=www/pkg
wasm_opt=www/node_modules/.bin/wasm-opt
esbuild=www/node_modules/.bin/esbuild
# ONNXRUNTIME_NODE_INSTALL=skip: the demo's transformers.js would fetch a binary from outside the registries.
[[ -x $wasm_opt && -x $esbuild ]] || (cd www && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
base_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
rm -rf "$out"
size() { stat -c %s "$1"; }
rows=()
fail=0
# relaxed, simd and scalar: the full build (`elex`); relaxed-core, simd-core and scalar-core: the
# core build (`elex/core`: elex-wasm without its `full` feature), web target only.
for flavour in relaxed simd scalar relaxed-core simd-core scalar-core; do
  flags="" features=("${base_features[@]}") cargo_features=() targets=(web bundler)
  if [[ $flavour == *-core ]]; then
    cargo_features=(--no-default-features)
    targets=(web)
  fi
  if [[ $flavour == simd* ]]; then
    flags="-C target-feature=+simd128"
    features+=(--enable-simd)
  elif [[ $flavour == relaxed* ]]; then
    flags="-C target-feature=+simd128,+relaxed-simd"
    features+=(--enable-simd --enable-relaxed-simd)
    targets=(web) # the loader's flavour; the bundler target's builds stay simd and scalar
  fi
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" cargo build -q --profile "${ELEX_WASM_PROFILE:-release-wasm}" \
    --target wasm32-unknown-unknown -p elex-wasm "${cargo_features[@]}" --target-dir "target/wasm-size-${flavour%-core}"
  raw="target/wasm-size-${flavour%-core}/wasm32-unknown-unknown/${ELEX_WASM_PROFILE:-release-wasm}/elex_wasm.wasm"
  for target in "${targets[@]}"; do
    dir="$out/$target/$flavour"
    wasm-bindgen --target "$target" --out-dir "$dir" --out-name elex "$raw"
    bg="$dir/elex_bg.wasm"
    unopt=$(size "$bg")
    "$wasm_opt" -O3 --strip-debug --strip-producers "${features[@]}" "$bg" -o "$dir/o3.wasm"
    "$wasm_opt" -Oz --strip-debug --strip-producers "${features[@]}" "$bg" -o "$dir/oz.wasm"
    o3=$(size "$dir/o3.wasm") oz=$(size "$dir/oz.wasm")
    if [[ $opt == -O3 ]]; then mv "$dir/o3.wasm" "$bg"; rm "$dir/oz.wasm"; else mv "$dir/oz.wasm" "$bg"; rm "$dir/o3.wasm"; fi
    # The web build's generated JS (glue and snippets) ships minified by esbuild, names kept
    # (classes keep their `name`); the readable sources are crates/elex-wasm/js/.
    if [[ $target == web ]]; then
      while IFS= read -r f; do
        "$esbuild" --minify --keep-names --format=esm --log-level=warning \
          --log-override:duplicate-object-key=silent "$f" --outfile="$f.min"
        mv "$f.min" "$f"
      done < <(find "$dir" -name '*.js' | sort)
    fi
    total=0
    glue=("$dir/elex.js")
    [[ -f "$dir/elex_bg.js" ]] && glue+=("$dir/elex_bg.js")
    # The IndexedDB adapter ships as a wasm-bindgen snippet beside the glue.
    while IFS= read -r f; do glue+=("$f"); done < <(find "$dir/snippets" -name '*.js' 2>/dev/null | sort)
    for f in "$bg" "${glue[@]}"; do
      brotli -q 11 -f -k "$f"
      b=$(size "$f.br")
      total=$((total + b))
      r=$([[ $f == *.wasm ]] && echo "$unopt" || size "$f")
      rows+=("$(printf '%-44s %10s %10s %10s' "$f" "$r" "$(size "$f")" "$b")")
    done
    rows+=("$(printf '%-34s %10s %10s %10s   (-O3 %s, -Oz %s bytes before Brotli)' "  $target/$flavour wasm+glue" "" "" "$total" "$o3" "$oz")")
    if [[ $target == web && $total -gt $limit ]]; then fail=1; fi
    if [[ $flavour == *-core && $total -gt $core_limit ]]; then fail=1; fi
  done
done
printf '%-44s %10s %10s %10s\n' "file" "raw" "optimized" "brotli"
printf '%s\n' "${rows[@]}"
echo "shipped with wasm-opt $opt; limit $limit bytes Brotli per flavour (wasm + JS glue), $core_limit for the core build"
if ((fail)); then
  echo "build-optimized: over the size limit" >&2
  exit 1
fi
