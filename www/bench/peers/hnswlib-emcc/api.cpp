// A five-function C API over hnswlib's C++ (the header-only library of the PyPI sdist), for the
// browser benchmark's honest wasm anchor: hnswlib built by emscripten with SIMD (its SSE
// kernels become wasm SIMD), beside the npm hnswlib-wasm (built without -msimd128) and elex.
// Vectors are unit length (docs-50k), so inner product ranks like cosine.
#include <cstdint>
#include "hnswlib/hnswlib.h"

static hnswlib::InnerProductSpace *space = nullptr;
static hnswlib::HierarchicalNSW<float> *index_ = nullptr;

extern "C" {

// A new index (any earlier one is dropped): dims, capacity, M, efConstruction, seed.
int hn_create(int dims, int capacity, int m, int ef_construction, int seed) {
  delete index_;
  delete space;
  space = new hnswlib::InnerProductSpace(dims);
  index_ = new hnswlib::HierarchicalNSW<float>(space, capacity, m, ef_construction, seed);
  return 0;
}

// Adds the vector at `v` (dims floats in wasm memory) under `label`.
void hn_add(const float *v, int label) { index_->addPoint(v, (size_t)label); }

void hn_set_ef(int ef) { index_->setEf(ef); }

// The k nearest to `q`, nearest first, into `out` (k int32 labels); returns how many.
int hn_search(const float *q, int k, int32_t *out) {
  auto r = index_->searchKnn(q, k);
  int n = (int)r.size();
  for (int i = n - 1; i >= 0; i--) {
    out[i] = (int32_t)r.top().second;
    r.pop();
  }
  return n;
}

void hn_free() {
  delete index_;
  delete space;
  index_ = nullptr;
  space = nullptr;
}
}
