// Search results as plain JS objects: copies of the arrays wasm computed, so a result holds no
// wasm memory, needs no `free()` and registers no finalizer (a tight loop of searches leaves
// nothing behind for the garbage collector's cleanup tasks, which only run between tasks).

/// `{ ids, scores, distances, length }` from three views of wasm memory (copied here, before
/// wasm frees them).
export function searchResult(ids, scores, distances) {
  return { ids: ids.slice(), scores: scores.slice(), distances: distances.slice(), length: ids.length };
}
