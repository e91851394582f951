// Compiled with tsc --noEmit --strict against the installed package: the generated types must
// describe the API as used here.
import { init, type ElexModule, type HnswIndex, type SearchResult, type AdaptiveCache } from 'elex';
import { open, type WorkerElex, type WorkerHnswIndex, type WorkerSearchResult } from 'elex/worker';

export async function typed(): Promise<number> {
  const elex: ElexModule = await init({ simd: true });
  const idx: HnswIndex = new elex.HnswIndex({ dims: 4, metric: 'cosine', storage: 'f16', efConstruction: 100 });
  idx.add(1, new Float32Array([1, 0, 0, 0]));
  const added: number = await idx.addBatch(new Float64Array([2]), new Float32Array([0, 1, 0, 0]), (done: number, total: number) => done / total);
  const r: SearchResult = idx.search(new Float32Array([1, 0, 0, 0]), 1);
  const ids: Float64Array = r.ids;
  const scores: Float32Array = r.scores;
  const cache: AdaptiveCache = await elex.AdaptiveCache.open({ budgetBytes: 1 << 20, dbName: 'x', policy: 'tinylfu' });
  await cache.put('k', new Uint8Array(4));
  const bytes: number = cache.bytes;
  const back: HnswIndex = await elex.HnswIndex.load('db', 'key');
  void added;
  return ids.length + scores.length + bytes + back.size + (elex.flavour === 'simd' ? 1 : 0);
}

export async function inWorker(): Promise<number> {
  const elex: WorkerElex = await open({ simd: true });
  const idx: WorkerHnswIndex = await elex.HnswIndex.create({ dims: 4, storage: 'i8', keepF32: true });
  await idx.addBatch([1, 2], new Float32Array(8).fill(1), { onProgress: (d: number, t: number) => d / t, sliceMs: 4 });
  const r: WorkerSearchResult = await idx.search(elex.transfer(new Float32Array(4).fill(1)), 1);
  const n: number = await idx.size;
  elex.terminate();
  return r.ids[0] + n;
}
