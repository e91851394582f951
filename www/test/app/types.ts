// Compiled with tsc --noEmit --strict against the installed package: the generated types must
// describe the API as used here.
import { init, relaxedSimdSupported, type Flavour, type ElexModule, type HnswIndex, type SearchResult, type AdaptiveCache, type TextIndex, type CalibrationInfo } from 'elex';
import { init as initCore, relaxedSimdSupported as coreRelaxed, type ElexCoreModule, type HnswIndex as CoreIndex } from 'elex/core';
import { open, type WorkerElex, type WorkerHnswIndex, type WorkerSearchResult, type WorkerTextIndex } from 'elex/worker';

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
  const text: TextIndex = new elex.TextIndex({ stem: false, stopWords: true, k1: 1.2, b: 0.75 });
  const nText: number = await text.addBatch([1, 2], ['red fox', 'blue bird']);
  const t: SearchResult = text.search('fox', 5);
  const h: SearchResult = elex.hybridSearch(idx, text, { vector: [1, 0, 0, 0], text: 'fox', k: 2, fusion: { alpha: 0.3 }, allow: [1, 2] });
  const words: string[] = text.terms('Red Foxes');
  const cal: CalibrationInfo = await idx.calibrate({ samples: 50, k: 1, sliceMs: 4 });
  const byTarget: SearchResult = idx.search([1, 0, 0, 0], 1, { targetRecall: 0.95 });
  const stale: boolean = idx.calibration()?.stale ?? true;
  void (cal.points[0][0] + byTarget.length + (stale ? 1 : 0));
  const kept: HnswIndex = await elex.HnswIndex.open({ dbName: 'db', name: 'docs', dims: 4, storage: 'i8', checkpointShare: 0.5, durability: 'relaxed' });
  kept.add(9, [1, 0, 0, 0]);
  await kept.flush();
  await kept.checkpoint();
  const stats = kept.storageStats();
  const readOnly: boolean = kept.readOnly;
  const lost: number = kept.recovered?.lost ?? 0;
  await kept.close();
  const notes: TextIndex = await elex.TextIndex.open({ dbName: 'db', name: 'notes', stem: true });
  const learner = await elex.QLearner.open({ dbName: 'db', name: 'q', states: 4, actions: 2, alpha: 0.5, gamma: 0.9, seed: 1 });
  await learner.flush();
  void added;
  void readOnly;
  void notes;
  void (stats ? stats.generation + lost : 0);
  return ids.length + scores.length + bytes + back.size + (elex.flavour === 'simd' ? 1 : 0) + nText + t.length + h.length + words.length;
}

export async function inWorker(): Promise<number> {
  const flavour: Flavour = (await relaxedSimdSupported()) ? 'relaxed' : 'simd';
  const elex: WorkerElex = await open({ flavour });
  const idx: WorkerHnswIndex = await elex.HnswIndex.create({ dims: 4, storage: 'i8', keepF32: true });
  await idx.addBatch([1, 2], new Float32Array(8).fill(1), { onProgress: (d: number, t: number) => d / t, sliceMs: 4 });
  const r: WorkerSearchResult = await idx.search(elex.transfer(new Float32Array(4).fill(1)), 1);
  const n: number = await idx.size;
  const text: WorkerTextIndex = await elex.TextIndex.create({ stem: true });
  await text.addBatch([1, 2], ['red fox', 'blue bird']);
  const h: WorkerSearchResult = await elex.hybridSearch(idx, text, { vector: [1, 1, 1, 1], text: 'fox', k: 2 });
  const terms: number = await text.termCount;
  elex.terminate();
  return r.ids[0] + n + h.length + terms;
}

export async function coreBuild(): Promise<number> {
  const elex: ElexCoreModule = await initCore({ flavour: (await coreRelaxed()) ? 'relaxed' : 'scalar' });
  const idx: CoreIndex = new elex.HnswIndex({ dims: 4, storage: 'q4', keepF32: true });
  await idx.addBatch([1, 2], new Float32Array(8).fill(1));
  const text = new elex.TextIndex({ stem: true });
  text.add(1, 'red fox');
  const h = elex.hybridSearch(idx, text, { vector: [1, 1, 1, 1], text: 'fox', k: 1 });
  const saved: number = await idx.save('db', 'core');
  const build: 'core' = elex.build;
  // @ts-expect-error: the core build has no persistent open
  elex.HnswIndex.open;
  // @ts-expect-error: nor the budgeted index
  elex.BudgetedIndex;
  return h.length + saved + build.length;
}
