#!/usr/bin/env bash
# Builds the npm package's WebAssembly: crates/elex-wasm in the release-wasm profile (opt-level 3,
# fat LTO, panic=abort: measured 1.8x the QPS of opt-level "s" in wasm for +3.6 KB Brotli;
# ELEX_WASM_PROFILE=release-size builds for size), three times (simd128 with relaxed SIMD, simd128,
# neither: the loader runs the first the browser supports), each as the full build (`elex`) and
# the core build (`elex/core`: the vector index, the text index and hybrid search); wasm-bindgen
# for the web and bundler targets (core and relaxed: web); wasm-opt from the npm `binaryen` package
# (Debian's binaryen 108 writes broken modules for current wasm-bindgen output); Brotli
# at quality 11; each build's post-processing runs in the background while the next one compiles.
# Prints raw, optimized and Brotli sizes of every .wasm and JS glue file, and for the simd web
# builds the -O3 and -Oz sizes side by side (ELEX_WASM_OPT picks the one shipped, default -O3: it
# costs about 1 KB Brotli over -Oz and searched about 12% faster in Node). Exits
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
fail=0
rows_dir=$(mktemp -d)
trap 'rm -rf "$rows_dir"' EXIT
# One wasm-bindgen target of one cargo build: bindings, wasm-opt, esbuild (web), Brotli, and its
# rows of the size table in $rows_dir (a line "over" there when it is above its budget). It runs
# in the background while the next cargo build compiles (fat LTO links on one core).
post() {
  local flavour=$1 target=$2 raw=$3 rows
  rows="$rows_dir/$(printf '%02d' "$4")-$target-$flavour"
  shift 4
  local features=("$@")
  local dir="$out/$target/$flavour"
  wasm-bindgen --target "$target" --out-dir "$dir" --out-name elex "$raw"
  local bg="$dir/elex_bg.wasm"
  local unopt other
  unopt=$(size "$bg")
  "$wasm_opt" "$opt" --strip-debug --strip-producers "${features[@]}" "$bg" -o "$dir/opt.wasm"
  # The level not shipped is measured for the simd web builds only (the comparison in README.md and docs/performance-log.md).
  other=$([[ $opt == -O3 ]] && echo -Oz || echo -O3)
  local compared=""
  if [[ $target == web && ($flavour == simd || $flavour == simd-core) ]]; then
    "$wasm_opt" "$other" --strip-debug --strip-producers "${features[@]}" "$bg" -o "$dir/other.wasm"
    compared=$(printf '   (%s %s, %s %s bytes before Brotli)' "$opt" "$(size "$dir/opt.wasm")" "$other" "$(size "$dir/other.wasm")")
    rm "$dir/other.wasm"
  fi
  mv "$dir/opt.wasm" "$bg"
  # The web build's generated JS (glue and snippets) ships minified by esbuild, names kept
  # (classes keep their `name`); the readable sources are crates/elex-wasm/js/.
  if [[ $target == web ]]; then
    while IFS= read -r f; do
      "$esbuild" --minify --keep-names --format=esm --log-level=warning \
        --log-override:duplicate-object-key=silent "$f" --outfile="$f.min"
      mv "$f.min" "$f"
    done < <(find "$dir" -name '*.js' | sort)
  fi
  local total=0 b r f
  local glue=("$dir/elex.js")
  [[ -f "$dir/elex_bg.js" ]] && glue+=("$dir/elex_bg.js")
  # The IndexedDB adapter ships as a wasm-bindgen snippet beside the glue.
  while IFS= read -r f; do glue+=("$f"); done < <(find "$dir/snippets" -name '*.js' 2>/dev/null | sort)
  for f in "$bg" "${glue[@]}"; do
    brotli -q 11 -f -k "$f"
    b=$(size "$f.br")
    total=$((total + b))
    r=$([[ $f == *.wasm ]] && echo "$unopt" || size "$f")
    printf '%-44s %10s %10s %10s\n' "$f" "$r" "$(size "$f")" "$b" >>"$rows"
  done
  printf '%-34s %10s %10s %10s%s\n' "  $target/$flavour wasm+glue" "" "" "$total" "$compared" >>"$rows"
  if [[ $target == web && $total -gt $limit ]] || [[ $flavour == *-core && $total -gt $core_limit ]]; then
    echo over >>"$rows"
  fi
}
pids=()
n=0
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
  # The next build of this target dir overwrites $raw: post-process a copy.
  mkdir -p "$rows_dir/raw"
  cp "$raw" "$rows_dir/raw/$flavour.wasm"
  for target in "${targets[@]}"; do
    n=$((n + 1))
    post "$flavour" "$target" "$rows_dir/raw/$flavour.wasm" "$n" "${features[@]}" &
    pids+=($!)
  done
done
for pid in "${pids[@]}"; do wait "$pid"; done
rows=()
for f in "$rows_dir"/[0-9]*; do
  while IFS= read -r line; do
    if [[ $line == over ]]; then fail=1; else rows+=("$line"); fi
  done <"$f"
done
printf '%-44s %10s %10s %10s\n' "file" "raw" "optimized" "brotli"
printf '%s\n' "${rows[@]}"
echo "shipped with wasm-opt $opt; limit $limit bytes Brotli per flavour (wasm + JS glue), $core_limit for the core build"
if ((fail)); then
  echo "build-optimized: over the size limit" >&2
  exit 1
fi
