#!/usr/bin/env bash
# Benchmarks elex and its peers side by side, in one run, on this machine.
#   --quick       the shorter run: kernel SIMD/scalar ratios (native and wasm in Node), HNSW on
#                 the first 10,000 vectors against hnswlib, faiss and usearch (and beside hnswlib
#                 in interleaved rounds, also on 100,000 GloVe 50-d vectors), the cache trace
#                 suite against libcachesim, elex in Chromium and Node beside hnswlib built with
#                 emscripten and SIMD, hnswlib-wasm and voy, long tasks while building 10,000
#                 vectors in Chromium (sliced, one task, old chunks, worker), text search beside MiniSearch and Orama on 10,000
#                 passages, the budgeted index (native, and Chromium on 10,000 vectors), and
#                 Q-learning batch updates natively and in wasm against plain JS.
#   (default)     everything: the whole data set, every storage kind, and the criterion benches.
#   --data DIR    another set laid out like docs-50k (base.fvecs, query.fvecs, groundtruth.ivecs).
# Results (JSON, markdown, plot) go to bench-results/.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/env.sh
mode=full
data=../shared/data/docs-50k
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --data) data="${2:?--data needs a folder}"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
out=bench-results
mkdir -p "$out"

echo "== elex-simd: SIMD/scalar ratio, native ($(uname -m))"
cargo run -q --release -p elex-simd --example ratio | tee "$out/kernels-native.txt"
cargo run -q --release -p elex-simd --example ratio -- --json > "$out/kernels-native.json"
echo
echo "== elex-simd: simd128 build vs scalar build, wasm in Node"
bash scripts/wasm-kernel-ratio.sh --json "$out/kernels-wasm.json" | tee "$out/kernels-wasm.txt"

echo
echo "== HNSW: elex beside hnswlib, faiss and usearch ($data)"
py=$(bash scripts/setup-bench.sh | tail -n 1)
cargo build -q --release -p elex-bench
if [[ $mode == quick ]]; then
  set_args=(--limit 10000)
  ef=10,20,40,80,160
  storages=(f32 f16 i8)
else
  set_args=()
  ef=10,20,40,80,160,320
  storages=(f32 f16 i8 i8+rerank)
fi
files=()
for s in "${storages[@]}"; do
  extra=()
  [[ $s == *+rerank ]] && extra=(--keep-f32)
  name=${s%+rerank}
  f="$out/hnsw-elex-$s.json"
  ./target/release/elex-bench hnsw --base "$data/base.fvecs" --query "$data/query.fvecs" \
    --gt "$data/groundtruth.ivecs" --ef "$ef" --storage "$name" "${extra[@]}" "${set_args[@]}" --json "$f" 2>/dev/null
  files+=("$f")
done
"$py" crates/elex-bench/peers/hnsw_peers.py --base "$data/base.fvecs" --query "$data/query.fvecs" \
  --gt "$data/groundtruth.ivecs" --ef "$ef" "${set_args[@]}" --out-dir "$out"
files+=("$out/hnsw-hnswlib.json" "$out/hnsw-faiss.json" "$out/hnsw-usearch.json")
"$py" crates/elex-bench/peers/report.py "$out" "${files[@]}"

echo
echo "== HNSW: elex beside hnswlib in interleaved rounds (median of per-round QPS ratios at recall 0.9 and 0.95)"
glove=$(bash scripts/make-glove.sh)
rounds=$([[ $mode == quick ]] && echo 1 || echo 3)
"$py" crates/elex-bench/peers/hnsw_interleaved.py --bin target/release/elex-bench --base "$data/base.fvecs" \
  --query "$data/query.fvecs" --gt "$data/groundtruth.ivecs" --rounds "$rounds" "${set_args[@]}" \
  --json "$out/hnsw-interleaved-docs.json" | tee "$out/hnsw-interleaved-docs.txt"
"$py" crates/elex-bench/peers/hnsw_interleaved.py --bin target/release/elex-bench --base "$glove/base.fvecs" \
  --query "$glove/query.fvecs" --gt "$glove/groundtruth.ivecs" --rounds "$rounds" "${set_args[@]}" \
  --json "$out/hnsw-interleaved-glove.json" | tee "$out/hnsw-interleaved-glove.txt"

echo
echo "== parallel build: elex's rounds against hnswlib's multi-threaded add_items, both on every core (median build-time ratio; recall/QPS of the graphs they make)"
cores=$(nproc)
for set in docs glove; do
  d=$([[ $set == docs ]] && echo "$data" || echo "$glove")
  "$py" crates/elex-bench/peers/hnsw_interleaved.py --bin target/release/elex-bench --base "$d/base.fvecs" \
    --query "$d/query.fvecs" --gt "$d/groundtruth.ivecs" --rounds 3 --passes 1 --queries 300 \
    --ef 16,32,64,128 --build-threads "$cores" --json "$out/hnsw-parallel-$set.json" | tee "$out/hnsw-parallel-$set.txt"
done

echo
echo "== cache: elex's policies beside libcachesim's on the cache-traces suite"
traces="$ELEX_CACHE/cache-traces"
if [[ ! -f $traces/traces.json ]]; then
  "$py" ../shared/tools/cache-traces/make_traces.py "$traces"
fi
"$py" crates/elex-bench/peers/cache_peers.py --traces "$traces" --bench target/release/elex-bench \
  --out-dir "$out" | tee "$out/cache.txt"
cargo run -q --release -p elex-cache --example evict_p99 | tee "$out/cache-evict.txt"

echo
echo "== browser benchmark: elex (simd, scalar) beside hnswlib built with emscripten and SIMD (the honest wasm anchor), hnswlib-wasm, edgevec, mememo and voy, in Chromium and Node"
bash build-optimized.sh > "$out/sizes.txt"
# hnswlib's own C++ from its PyPI sdist, built with Debian's emscripten at -O3 -msimd128 -msse..sse3.
if ! command -v em++ > /dev/null || [[ ! -d /usr/share/nodejs/acorn ]]; then
  apt-get update -qq -o DPkg::Lock::Timeout=600
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends emscripten node-acorn > /dev/null
fi
bash www/bench/peers/hnswlib-emcc/build.sh
# onnxruntime-node (under transformers.js) would download binaries at install: they ship in the
# package already, so its install script is skipped.
(cd www/bench/peers && export ONNXRUNTIME_NODE_INSTALL=skip && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
  npm install --no-audit --no-fund --loglevel=error; })
if [[ $mode == quick ]]; then
  # Quick: the peers that build fast (mememo and edgevec take minutes; the full run has them).
  node www/bench/browser/run.mjs --data "$data" --n 10000 --queries 200 --ef 10,20,40,80 --min-pass-ms 300 \
    --engines elex-relaxed,elex-simd,"elex-relaxed i8+rerank","elex-simd i8+rerank",elex-scalar,hnswlib-emcc-simd,hnswlib-wasm,"voy-search (exact)" --out "$out"
else
  node www/bench/browser/run.mjs --data "$data" --n 10000 --queries 1000 --ef 10,20,40,80,160 --min-pass-ms 300 --out "$out"
  # Every engine at 50K too; three ef points bracket recall 0.95 (EdgeVec fixes ef at build time,
  # so it builds once per ef), which keeps this step near an hour on two cores.
  node www/bench/browser/run.mjs --data "$data" --n 50000 --queries 1000 --ef 20,40,80 --min-pass-ms 300 --out "$out"
  node www/bench/hnsw.mjs --data "$data" --json "$out/wasm-hnsw-50k.json" | tee "$out/wasm-hnsw-50k.txt"
fi
# The recall-vs-QPS plots, with the plotting the native report uses (matplotlib).
"$py" www/bench/browser/plot.py "$out"/browser-bench-[0-9]*k.json

echo
echo "== text: BM25 against PyPI bm25s (live), then elex beside MiniSearch and Orama (full-text and hybrid) and known-item quality, in Node and Chromium"
bash scripts/bm25s-check.sh "$data"
if [[ $mode == quick ]]; then
  node --expose-gc www/bench/text/run.mjs --data "$data" --n 10000 --items 200 --rounds 2 --browser --out "$out"
else
  node --expose-gc www/bench/text/run.mjs --data "$data" --n 50000 --items 1000 --rounds 3 --browser --out "$out"
  # Chunked passages: 218,318 windows of 16 words embedded on both cores (cached; about 20
  # minutes the first time), then known-item quality through hybridSearch's chunkBits.
  node www/bench/text/embed-windows.mjs --data "$data" --n 50000 --part 0 --parts 2 &
  node www/bench/text/embed-windows.mjs --data "$data" --n 50000 --part 1 --parts 2
  wait
  node www/bench/text/chunks.mjs --data "$data" --n 50000 --out "$out"
fi

echo
echo "== persistence in Chromium: add + flush latency, bytes per add, save() after one add, checkpoint, open vs load; crash trials"
if [[ $mode == quick ]]; then
  node www/bench/persist/run.mjs --sizes 10000 --rounds 3 --trials 10 | tee "$out/persist.md"
else
  node www/bench/persist/run.mjs --sizes 10000,50000 --rounds 3 --trials 50 | tee "$out/persist.md"
fi

echo
echo "== budgeted index: q4 codes and links resident, exact rows in a file (native) and in IndexedDB (Chromium), under shares of the f32 index's bytes, interleaved with the f32 index"
if [[ $mode == quick ]]; then
  ./target/release/elex-bench budget --base "$data/base.fvecs" --query "$data/query.fvecs" \
    --gt "$data/groundtruth.ivecs" --queries 300 --rounds 3 --json "$out/budget-native.json" \
    --export "$out/docs.elexb" | tee "$out/budget-native.txt"
  node www/bench/budget/run.mjs --data "$data" --n 10000 --queries 300 --rounds 3 --out "$out"
  node www/bench/budget/run.mjs --data "$data" --n 10000 --queries 300 --rounds 3 --rows opfs --out "$out"
  node www/bench/budget/import.mjs --bundle "$out/docs.elexb" --data "$data" --out "$out"
else
  ./target/release/elex-bench budget --base "$data/base.fvecs" --query "$data/query.fvecs" \
    --gt "$data/groundtruth.ivecs" --queries 1000 --rounds 3 --json "$out/budget-native.json" \
    --export "$out/docs.elexb" | tee "$out/budget-native.txt"
  ./target/release/elex-bench budget --base "$glove/base.fvecs" --query "$glove/query.fvecs" \
    --gt "$glove/groundtruth.ivecs" --queries 1000 --rounds 3 --shares 1,0.75,0.6 \
    --json "$out/budget-native-glove.json" | tee "$out/budget-native-glove.txt"
  node www/bench/budget/run.mjs --data "$data" --n 50000 --queries 1000 --rounds 3 --out "$out"
  node www/bench/budget/run.mjs --data "$data" --n 50000 --queries 1000 --rounds 3 --precision f16 \
    --shares 0.5,0.25 --out "$out/f16"
  # Rows in an OPFS file through a sync access handle: the whole bench in a dedicated worker.
  node www/bench/budget/run.mjs --data "$data" --n 50000 --queries 1000 --rounds 3 --rows opfs --out "$out"
  node www/bench/budget/run.mjs --data "$data" --n 50000 --queries 1000 --rounds 3 --precision f16 \
    --shares 0.5,0.25 --rows opfs --out "$out/f16"
  node www/bench/budget/import.mjs --bundle "$out/docs.elexb" --data "$data" --out "$out"
  # A million 384-d vectors in a 400 MB budget: built natively on every core, shipped as a
  # bundle, imported into Chromium (about 25 minutes and 3.5 GB of disk in all); first the
  # parallel build against hnswlib's on the same million (two interleaved rounds).
  m1=${XDG_CACHE_HOME:-$HOME/.cache}/elex/data/clustered-1m
  [[ -f $m1/groundtruth.ivecs ]] || ./target/release/elex-bench gen-clustered --n 1000000 --out "$m1"
  "$py" crates/elex-bench/peers/hnsw_interleaved.py --bin target/release/elex-bench --base "$m1/base.fvecs" \
    --query "$m1/query.fvecs" --gt "$m1/groundtruth.ivecs" --rounds 2 --passes 1 --queries 300 \
    --ef 32,64,128 --targets 0.95 --build-threads "$(nproc)" --json "$out/hnsw-parallel-1m.json" \
    | tee "$out/hnsw-parallel-1m.txt"
  ./target/release/elex-bench budget --base "$m1/base.fvecs" --query "$m1/query.fvecs" \
    --gt "$m1/groundtruth.ivecs" --queries 1000 --rounds 1 --precision f16 --budget-bytes 400000000 \
    --build-threads "$(nproc)" --export "$out/m1.elexb" --json "$out/budget-native-1m.json" \
    | tee "$out/budget-native-1m.txt"
  node www/bench/budget/import.mjs --bundle "$out/m1.elexb" --data "$m1" --queries 1000 \
    --budget-bytes 400000000 --out "$out/1m"
  rm -f "$out/m1.elexb"
fi

echo
echo "== the demo in Chromium: query cycle (embed + search + fetch) P50/P95, model load, first visit and reload to the first answer, long tasks"
if [[ $mode == quick ]]; then
  ELEX_DATA="$data" node --test-reporter=dot www/test/demo-e2e.mjs --bench --questions 50 --out "$out/demo"
else
  ELEX_DATA="$data" node --test-reporter=dot www/test/demo-e2e.mjs --bench --questions 200 --out "$out/demo"
fi

echo
echo "== long tasks while building in Chromium: sliced, one task, the old 2,000-vector chunks, and elex/worker"
if [[ $mode == quick ]]; then
  node www/bench/longtask/run.mjs --data "$data" --n 10000 --rounds 1 --out "$out/longtask"
else
  node www/bench/longtask/run.mjs --data "$data" --n 50000 --rounds 2 --out "$out/longtask"
fi

echo
echo "== Q-learning: batch updates natively (criterion, every ISA) and in wasm beside plain JS (Node)"
if [[ $mode == quick ]]; then
  cargo bench -q -p elex-qlearning --bench batch -- --warm-up-time 0.5 --measurement-time 1 'x100$' 2>&1 |
    awk '/time:/ && prev ~ /Analyzing/ {print prev, $0} {prev=$0}' | sed 's/Benchmarking //; s/: Analyzing.*time:/ /; s/thrpt.*//' |
    tee "$out/qlearning-native.txt"
fi
bash scripts/build-wasm-node.sh > /dev/null
node www/bench/qlearning.mjs --json "$out/qlearning-wasm.json" | tee "$out/qlearning-wasm.txt"

if [[ $mode == full ]]; then
  echo
  echo "== criterion benches (all crates)"
  cargo bench -q --workspace 2>&1 | tee "$out/criterion.txt"
fi
echo
echo "results in $out/"
